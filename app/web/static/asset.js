// The asset panel: the asset's facts, its charts of metered against benchmark energy and of
// cumulative CO2 avoided, and the table of periods with coverage, flags and anchoring status.

import { $, el, kwhText, locale, metaItem, state, t, tco2 } from "./state.js";
import { MESSAGES } from "./i18n.js";
import { formatNumber, formatPercent, sumDecimals, zoneLabel } from "./format.js";
import { renderMethodology } from "./methodology.js";
import { runVerify } from "./verify-panel.js";

const MAX_DAY_ROWS = 62;
const COLORS = { metered: "#1f5fa8", benchmark: "#b5470b", co2: "#0b6146" };

// The period in progress (the API flags it `incomplete`): its energy is only the part so far, so
// in a line it would look like a collapse at the end. It is left out of the lines and drawn as a
// hollow point of its own (a day), or as hollow bars (a month).
const inProgress = (item) => item.flags.includes("incomplete");
const SO_FAR_DATASET = 2; // the daily chart's datasets: metered, benchmark, the day so far,
const BAND_UPPER = 3; // then the benchmark +- its 90 % savings uncertainty (filled between)
const BAND_LOWER = 4;
const BAND_FILL = "rgba(181, 71, 11, 0.15)";

function flagText(flag) {
  const key = `flag_${flag}`;
  return key in MESSAGES.en ? t(key) : flag;
}

function statusBadge(anchoring) {
  const status = anchoring.status;
  const text =
    status === "anchored"
      ? t("status_anchored", { number: anchoring.checkpoint_number })
      : t(status === "pending" ? "status_pending" : "status_provisional");
  return el("span", { class: `badge ${status}`, text });
}

export function renderAsset() {
  const asset = state.assets[state.assetId];
  const select = $("#asset-select");
  const allocations = state.bond ? state.bond.allocations : [];
  select.replaceChildren(
    ...allocations.map((a) => el("option", { value: a.asset_id, selected: a.asset_id === state.assetId, text: a.asset_name })),
  );
  if (!asset) {
    $("#asset-meta").replaceChildren();
    return;
  }
  const meta = [
    metaItem(t("kind"), asset.kind === "building" ? t("kind_building") : asset.kind === "renewable" ? t("kind_renewable") : asset.kind),
  ];
  if (asset.floor_area_m2 !== null) meta.push(metaItem(t("floor_area"), `${formatNumber(asset.floor_area_m2, 0, locale())} m²`));
  meta.push(metaItem(t("grid_region"), asset.grid_region));
  meta.push(metaItem(t("asset_time_zone"), `${asset.timezone} (${zoneLabel(asset.timezone)})`));
  if (asset.commissioning_date) meta.push(metaItem(t("commissioning_date"), asset.commissioning_date));
  $("#asset-meta").replaceChildren(...meta);
  $("#dates-note").textContent = t("dates_local", { zone: `${asset.timezone}, ${zoneLabel(asset.timezone)}` });

  const items = state.series[`${asset.id}/${state.period}`] || [];
  renderCharts(items);
  renderSeriesTable(items);
  renderMethodology(state.methodology[asset.id]);
}

function axisNumber(value) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 3 }).format(value);
}

const unitLabel = (unit) => (ctx) => `${ctx.dataset.label}: ${ctx.parsed.y === null ? t("not_available") : axisNumber(ctx.parsed.y)} ${unit}`;

function chartOptions(unit, label = unitLabel(unit)) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom" },
      tooltip: { callbacks: { label } },
    },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16, maxTicksLimit: 8 } },
      y: { beginAtZero: true, title: { display: true, text: unit }, ticks: { callback: (v) => axisNumber(v) } },
    },
  };
}

/** Legend entries drawn as the series look: a line sample (dashed for a dashed series) and a
 * hollow point for the day so far. Chart.js's default box would be stroked with the series'
 * dash pattern and filled, a garbled block; with point styles it takes the point's dash and
 * width (none and 1px), so both come from the dataset here. */
function lineLegendLabels(chart) {
  const items = window.Chart.defaults.plugins.legend.labels.generateLabels(chart);
  for (const item of items) {
    const dataset = chart.data.datasets[item.datasetIndex];
    if (item.datasetIndex === BAND_UPPER) {
      Object.assign(item, { pointStyle: "rect", lineWidth: 0, strokeStyle: BAND_FILL, fillStyle: BAND_FILL });
      continue;
    }
    const point = item.datasetIndex === SO_FAR_DATASET;
    item.pointStyle = point ? "circle" : "line";
    item.lineDash = point ? [] : dataset.borderDash || [];
    item.lineWidth = point ? dataset.pointBorderWidth : dataset.borderWidth;
    item.strokeStyle = dataset.borderColor;
    item.fillStyle = point ? dataset.pointBackgroundColor : dataset.borderColor;
  }
  // One entry for the band, and none when no period has one (a legend for nothing drawn).
  const banded = chart.data.datasets[BAND_UPPER]?.data.some((v) => v !== null);
  return items.filter((item) => item.datasetIndex !== BAND_LOWER && (banded || item.datasetIndex !== BAND_UPPER));
}

function replaceChart(id, config) {
  state.charts[id]?.destroy();
  delete state.charts[id];
  if (!window.Chart) return;
  state.charts[id] = new window.Chart(document.getElementById(id), config);
}

function renderCharts(items) {
  const labels = items.map((i) => i.period_start);
  const num = (v) => (v === null ? null : Number(v));
  const kind = state.period === "day" ? "line" : "bar";
  const lineStyle = { pointRadius: items.length > 60 ? 0 : 2, borderWidth: 2, spanGaps: false };
  const soFarKey = state.period === "day" ? "today_so_far" : "month_so_far";
  if (kind === "line") renderDailyEnergy(items, labels, num, lineStyle, soFarKey);
  else renderMonthlyEnergy(items, labels, num, soFarKey);
  const co2 = [];
  let running = "0";
  for (const i of items) {
    if (i.co2_avoided_t !== null) running = sumDecimals([running, i.co2_avoided_t]);
    co2.push(Number(running));
  }
  replaceChart("chart-co2", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: t("cumulative_co2"), data: co2, borderColor: COLORS.co2, backgroundColor: "rgba(11, 97, 70, 0.15)", fill: true, ...lineStyle },
      ],
    },
    options: chartOptions("t-CO2"),
  });
  if (!items.length) {
    $("#chart-energy-desc").textContent = t("no_results");
    $("#chart-co2-desc").textContent = "";
    return;
  }
  const first = labels[0];
  const last = labels[labels.length - 1];
  const present = (key) => items.map((i) => i[key]).filter((v) => v !== null);
  const parts = [
    t("chart_energy_desc", {
      periods: items.length,
      first,
      last,
      metered: formatNumber(sumDecimals(present("metered_kwh")), 1, locale()),
      benchmark: formatNumber(sumDecimals(present("benchmark_kwh")), 1, locale()),
    }),
  ];
  for (const i of items.filter(inProgress)) {
    parts.push(t("so_far_desc", { period: t(soFarKey), start: i.period_start, metered: kwhText(i.metered_kwh), benchmark: kwhText(i.benchmark_kwh) }));
  }
  $("#chart-energy-desc").textContent = parts.join(" ");
  $("#chart-co2-desc").textContent = t("chart_co2_desc", { total: tco2(running), first, last });
}

function renderDailyEnergy(items, labels, num, lineStyle, soFarKey) {
  const complete = (key) => items.map((i) => (inProgress(i) ? null : num(i[key])));
  const soFar = items.map((i) => (inProgress(i) ? num(i.metered_kwh) : null));
  const kwh = (value) => `${value === null ? t("not_available") : axisNumber(value)} kWh`;
  // The day so far says both of its partial figures in one line; the lines have no value there.
  // The band around the benchmark: where a complete period states its 90 % uncertainty U, the
  // benchmark +- U (docs/methodology.md, "Savings uncertainty"); nothing elsewhere.
  const band = (sign) =>
    items.map((i) =>
      inProgress(i) || i.benchmark_kwh === null || i.savings_uncertainty_90_kwh === null
        ? null
        : num(i.benchmark_kwh) + sign * num(i.savings_uncertainty_90_kwh),
    );
  const label = (ctx) => {
    if (ctx.datasetIndex === BAND_UPPER) return `${ctx.dataset.label}: ± ${kwh(num(items[ctx.dataIndex].savings_uncertainty_90_kwh))}`;
    if (ctx.datasetIndex !== SO_FAR_DATASET) return unitLabel("kWh")(ctx);
    const item = items[ctx.dataIndex];
    return `${ctx.dataset.label}: ${t("metered")} ${kwh(num(item.metered_kwh))}, ${t("benchmark")} ${kwh(num(item.benchmark_kwh))}`;
  };
  const options = chartOptions("kWh", label);
  options.plugins.tooltip.filter = (ctx) =>
    ctx.datasetIndex !== BAND_LOWER && (ctx.datasetIndex === SO_FAR_DATASET || !inProgress(items[ctx.dataIndex]));
  const bandStyle = { borderColor: BAND_FILL, backgroundColor: BAND_FILL, borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, spanGaps: false };
  options.plugins.legend.labels = { usePointStyle: true, generateLabels: lineLegendLabels };
  replaceChart("chart-energy", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: t("metered"), data: complete("metered_kwh"), borderColor: COLORS.metered, backgroundColor: COLORS.metered, ...lineStyle },
        { label: t("benchmark"), data: complete("benchmark_kwh"), borderColor: COLORS.benchmark, backgroundColor: COLORS.benchmark, borderDash: [6, 3], ...lineStyle },
        {
          label: t(soFarKey),
          data: soFar,
          showLine: false,
          borderColor: COLORS.metered,
          backgroundColor: "#ffffff",
          pointStyle: "circle",
          pointRadius: 5,
          pointHoverRadius: 6,
          pointBorderWidth: 2,
          pointBorderColor: COLORS.metered,
          pointBackgroundColor: "#ffffff",
        },
        { label: t("benchmark_uncertainty"), data: band(1), fill: false, ...bandStyle },
        { label: t("benchmark_uncertainty"), data: band(-1), fill: "-1", ...bandStyle },
      ],
    },
    options,
  });
}

function renderMonthlyEnergy(items, labels, num, soFarKey) {
  // Bars keep the month in progress (a bar is an amount, not a trend) but draw it hollow and
  // name it in the tooltip.
  const bars = (key, color) => ({
    label: t(key),
    data: items.map((i) => num(i[`${key}_kwh`])),
    borderColor: color,
    backgroundColor: items.map((i) => (inProgress(i) ? "rgba(255, 255, 255, 0)" : color)),
    borderWidth: items.map((i) => (inProgress(i) ? 2 : 0)),
  });
  const options = chartOptions("kWh");
  options.plugins.tooltip.callbacks.title = (ctxs) => {
    const item = items[ctxs[0].dataIndex];
    return inProgress(item) ? `${item.period_start} (${t(soFarKey)})` : item.period_start;
  };
  replaceChart("chart-energy", {
    type: "bar",
    data: { labels, datasets: [bars("metered", COLORS.metered), bars("benchmark", COLORS.benchmark)] },
    options,
  });
}

function renderSeriesTable(items) {
  const limit = state.period === "day" ? MAX_DAY_ROWS : items.length;
  const rows = items.slice(-limit).reverse();
  $("#series-note").textContent = items.length ? t("latest_rows", { shown: rows.length, total: items.length }) : t("no_results");
  $("#series-table tbody").replaceChildren(
    ...rows.map((i) => {
      const flags = i.flags.length
        ? i.flags.map((f) => el("span", { class: "badge flag", text: flagText(f) }))
        : [el("span", { text: t("no_flags") })];
      const action =
        i.anchoring.status === "anchored"
          ? el("button", {
              type: "button",
              "data-verify-result": i.result_id,
              "aria-label": t("verify_result_n", { id: i.result_id }),
              text: t("verify"),
              onclick: () => runVerify("result", i.result_id),
            })
          : "";
      return el(
        "tr",
        { "data-period": i.period_start },
        el("th", { scope: "row", text: i.period_start }),
        el("td", { class: "r", text: kwhText(i.metered_kwh) }),
        el("td", { class: "r", text: kwhText(i.benchmark_kwh) }),
        el("td", { class: "r", text: kwhText(i.energy_reduction_kwh) }),
        el("td", { class: "r", text: i.co2_avoided_t === null ? t("not_available") : tco2(i.co2_avoided_t) }),
        el("td", { class: "r", text: formatPercent(i.coverage, locale()) }),
        el("td", {}, ...flags),
        el("td", {}, statusBadge(i.anchoring)),
        el("td", {}, action),
      );
    }),
  );
}
