// The investor dashboard: reads the investor API only (public, or with an investor key the
// viewer types in, kept in sessionStorage), renders the bond, its assets and the anchoring, and
// verifies proof bundles in the browser (verify.js).

import { LOCALES, MESSAGES, translate } from "./i18n.js";
import {
  formatAge,
  formatDateTime,
  formatMoney,
  formatNumber,
  formatPercent,
  shiftDecimal,
  shortHex,
  sumDecimals,
  zoneLabel,
} from "./format.js";
import { verifyBundle } from "./verify.js";

const API = "/v1/investor";
const KEY_STORAGE = "gbt-investor-key";
const LANG_STORAGE = "gbt-lang";
const MAX_DAY_ROWS = 62;
const COLORS = { metered: "#1f5fa8", benchmark: "#b5470b", co2: "#0b6146" };

const params = new URLSearchParams(location.search);
const state = {
  lang: pickLanguage(),
  tz: "home",
  period: "day",
  config: null,
  key: sessionStorage.getItem(KEY_STORAGE),
  bonds: [],
  bondId: null,
  bond: null,
  homeZone: "UTC",
  assets: {},
  assetId: null,
  series: {},
  methodology: {},
  checkpoints: [],
  latestDay: null,
  verify: null,
  charts: {},
};

const $ = (selector) => document.querySelector(selector);
const t = (key, values) => translate(state.lang, key, values);
const locale = () => LOCALES[state.lang];
const zone = () => (state.tz === "utc" ? "UTC" : state.homeZone);

function pickLanguage() {
  const asked = params.get("lang") || localStorage.getItem(LANG_STORAGE) || navigator.language || "en";
  return asked.toLowerCase().startsWith("ja") ? "ja" : "en";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path) {
  const headers = state.key ? { "X-API-Key": state.key } : {};
  // no-cache: revalidate with the ETag every time, so the figures are never a minute stale.
  const response = await fetch(path, { headers, cache: "no-cache" });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body?.error?.code, body?.error?.message || `HTTP ${response.status}`);
  }
  return response.json();
}

async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// Loading ------------------------------------------------------------------------------------

function setStatus(text) {
  $("#status").textContent = text || "";
}

async function start() {
  document.body.dataset.ready = "false";
  setStatus(t("loading"));
  await load();
  render();
  document.body.dataset.ready = "true";
}

async function load() {
  try {
    state.config = state.config || (await api("config.json"));
    if (!$("#verify-rpc").value && state.config.chain_rpc_url) $("#verify-rpc").value = state.config.chain_rpc_url;
    if (state.config.investor_access === "api_key" && !state.key) {
      $("#key-panel").hidden = false;
      setStatus("");
      return;
    }
    state.bonds = await allPages(`${API}/bonds`);
    if (!state.bonds.length) {
      setStatus(t("no_bonds"));
      return;
    }
    const asked = Number(params.get("bond"));
    state.bondId = state.bonds.some((b) => b.id === asked) ? asked : state.bonds[0].id;
    await loadBond();
    setStatus("");
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      $("#key-panel").hidden = false;
      sessionStorage.removeItem(KEY_STORAGE);
      state.key = null;
    }
    setStatus(t("load_failed", { error: e.message }));
  }
}

async function loadBond() {
  const id = state.bondId;
  const [bond, checkpoints, months] = await Promise.all([
    api(`${API}/bonds/${id}`),
    api(`${API}/checkpoints?limit=100`),
    allPages(`${API}/bonds/${id}/impact?period=month`),
  ]);
  state.bond = bond;
  state.checkpoints = checkpoints.items;
  state.latestDay = null;
  if (months.length) {
    const first = months[months.length - 1].period_start;
    const days = await allPages(`${API}/bonds/${id}/impact?period=day&first_day=${first}`);
    state.latestDay = days.length ? days[days.length - 1] : null;
  }
  // Asset details are fetched when an asset is shown (a bond may finance a thousand assets);
  // the bond's home zone is its first asset's.
  const assetIds = bond.allocations.map((a) => a.asset_id);
  if (!assetIds.includes(state.assetId)) state.assetId = assetIds[0] ?? null;
  const home = assetIds.length ? await assetDetail(assetIds[0]) : null;
  state.homeZone = home ? home.timezone : "UTC";
  await loadAsset();
}

async function assetDetail(id) {
  if (!state.assets[id]) state.assets[id] = await api(`${API}/assets/${id}`);
  return state.assets[id];
}

async function loadAsset() {
  const id = state.assetId;
  if (id === null) return;
  const key = `${id}/${state.period}`;
  const jobs = [assetDetail(id)];
  if (!state.series[key]) {
    jobs.push(
      allPages(`${API}/assets/${id}/series?period=${state.period}`).then((items) => {
        state.series[key] = items;
      }),
    );
  }
  if (!state.methodology[id]) {
    jobs.push(
      api(`${API}/assets/${id}/methodology`).then((m) => {
        state.methodology[id] = m;
      }),
    );
  }
  await Promise.all(jobs);
}

// Rendering ----------------------------------------------------------------------------------

function render() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
  for (const b of document.querySelectorAll("[data-tz]")) b.setAttribute("aria-pressed", String(b.dataset.tz === state.tz));
  for (const b of document.querySelectorAll("[data-period]")) b.setAttribute("aria-pressed", String(b.dataset.period === state.period));
  $("#tz-home").textContent = zoneLabel(state.homeZone);
  $("#tz-home").title = state.homeZone;
  renderBondSelect();
  renderOverview();
  renderAsset();
  renderCheckpoints();
  renderVerify();
}

function renderBondSelect() {
  const select = $("#bond-select");
  select.replaceChildren(
    ...state.bonds.map((b) => el("option", { value: b.id, selected: b.id === state.bondId, text: `${b.code} — ${b.name}` })),
  );
}

const mwh = (kwh) => formatNumber(shiftDecimal(kwh, 3), 3, locale());
const tco2 = (t_) => formatNumber(t_, 3, locale());
const kwhText = (kwh) => (kwh === null ? t("not_available") : formatNumber(kwh, 1, locale()));
const dateTime = (iso) => formatDateTime(iso, zone(), locale());

function setNumber(selector, apiValue, text) {
  const node = $(selector);
  node.textContent = text ?? "";
  node.dataset.value = apiValue ?? "";
}

function metaItem(label, value) {
  return el("div", {}, el("dt", { text: label }), el("dd", { text: value }));
}

function renderOverview() {
  const bond = state.bond;
  if (!bond) {
    for (const id of ["#h-energy-attributed", "#h-energy-assets", "#h-co2-attributed", "#h-co2-assets"]) setNumber(id, null, "—");
    return;
  }
  const since = bond.impact_since_issuance;
  $("#bond-name").textContent = `${bond.name} (${bond.code})`;
  $("#bond-meta").replaceChildren(
    metaItem(t("issuer"), bond.issuer),
    metaItem(t("amount_issued"), formatMoney(bond.amount_issued, bond.currency, locale())),
    metaItem(t("issue_date"), bond.issue_date),
    metaItem(t("maturity_date"), bond.maturity_date),
  );
  setNumber("#h-energy-attributed", since.attributed_energy_reduction_kwh, mwh(since.attributed_energy_reduction_kwh));
  setNumber("#h-energy-assets", since.assets_energy_reduction_kwh, mwh(since.assets_energy_reduction_kwh));
  setNumber("#h-co2-attributed", since.attributed_co2_avoided_t, tco2(since.attributed_co2_avoided_t));
  setNumber("#h-co2-assets", since.assets_co2_avoided_t, tco2(since.assets_co2_avoided_t));
  $("#provisional-note").textContent = since.includes_provisional_days ? t("includes_provisional") : "";
  const anchored = bond.anchored_totals && bond.anchored_totals.read_from_chain ? bond.anchored_totals : null;
  $("#anchored-note").textContent = anchored
    ? t("anchored_totals", { number: anchored.checkpoint_number, energy: mwh(anchored.energy_reduction_kwh), co2: tco2(anchored.co2_avoided_t) })
    : t("no_anchored_totals");

  const issued = Number(bond.amount_issued);
  $("#alloc-table tbody").replaceChildren(
    ...bond.allocations.map((a) => {
      const ratio = issued > 0 ? Number(a.amount_allocated) / issued : 0;
      return el(
        "tr",
        {},
        el("th", { scope: "row", text: a.asset_name }),
        el("td", { class: "r", text: formatMoney(a.amount_allocated, bond.currency, locale()) }),
        el(
          "td",
          {},
          el("div", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${Math.min(100, ratio * 100)}%` })),
          el("span", { text: formatPercent(ratio, locale()) }),
        ),
        el("td", { class: "r", text: formatPercent(a.financing_share, locale()) }),
      );
    }),
  );

  const latest = state.checkpoints.find((c) => c.status === "confirmed");
  const items = [];
  if (latest) {
    items.push(metaItem(t("latest_checkpoint"), t("checkpoint_n", { number: latest.number })));
    items.push(metaItem(t("confirmed_at"), `${dateTime(latest.confirmed_at)} (${formatAge(latest.confirmed_at, locale())})`));
    items.push(metaItem(t("closes_at"), dateTime(latest.closes_at)));
    items.push(metaItem(t("tree_size"), t("leaves", { n: formatNumber(latest.tree_size, 0, locale()) })));
  } else {
    items.push(metaItem(t("latest_checkpoint"), t("none")));
  }
  const day = state.latestDay;
  items.push(
    metaItem(
      t("latest_data_day"),
      day ? `${day.period_start}${day.final ? "" : ` (${t("status_provisional")})`}` : t("none"),
    ),
  );
  $("#freshness").replaceChildren(...items);
}

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

function renderAsset() {
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

function chartOptions(unit) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom" },
      tooltip: {
        callbacks: {
          label: (ctx) => `${ctx.dataset.label}: ${ctx.parsed.y === null ? t("not_available") : axisNumber(ctx.parsed.y)} ${unit}`,
        },
      },
    },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16, maxTicksLimit: 8 } },
      y: { beginAtZero: true, title: { display: true, text: unit }, ticks: { callback: (v) => axisNumber(v) } },
    },
  };
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
  replaceChart("chart-energy", {
    type: kind,
    data: {
      labels,
      datasets: [
        { label: t("metered"), data: items.map((i) => num(i.metered_kwh)), borderColor: COLORS.metered, backgroundColor: COLORS.metered, ...lineStyle },
        { label: t("benchmark"), data: items.map((i) => num(i.benchmark_kwh)), borderColor: COLORS.benchmark, backgroundColor: COLORS.benchmark, borderDash: kind === "line" ? [6, 3] : undefined, ...lineStyle },
      ],
    },
    options: chartOptions("kWh"),
  });
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
  $("#chart-energy-desc").textContent = t("chart_energy_desc", {
    periods: items.length,
    first,
    last,
    metered: formatNumber(sumDecimals(present("metered_kwh")), 1, locale()),
    benchmark: formatNumber(sumDecimals(present("benchmark_kwh")), 1, locale()),
  });
  $("#chart-co2-desc").textContent = t("chart_co2_desc", { total: tco2(running), first, last });
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

function methodName(method) {
  const key = `method_${method}`;
  return key in MESSAGES.en ? t(key) : method;
}

function renderMethodology(m) {
  const box = $("#methodology");
  if (!m) {
    box.replaceChildren();
    return;
  }
  const benchmarks = m.benchmarks.map((b) => {
    const params_ = Object.entries(b.params).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
    const fits = b.baseline_fits
      .filter((f) => f.fit)
      .map((f) =>
        el(
          "li",
          {},
          `${f.summary ?? ""} `,
          t("fit_metrics", {
            cvrmse: formatPercent(f.fit.cvrmse, locale()),
            nmbe: formatPercent(f.fit.nmbe, locale()),
            r2: formatNumber(f.fit.r_squared, 3, locale()),
            days: f.fit.n_days,
          }),
          ` (${t(f.fit.within_ashrae_guideline_14 ? "within_guideline" : "outside_guideline")})`,
        ),
      );
    return el(
      "div",
      { class: "method" },
      el(
        "dl",
        {},
        el("dt", { text: t("benchmark_method") }),
        el("dd", { text: methodName(b.method) }),
        el("dt", { text: t("effective_from") }),
        el("dd", { text: b.effective_from }),
        el("dt", { text: t("parameters") }),
        el("dd", { class: "mono", text: params_ }),
        fits.length ? [el("dt", { text: t("baseline_fits") }), el("dd", {}, el("ul", {}, ...fits))] : [],
      ),
    );
  });
  const factors = m.emission_factors_used.length
    ? el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ...["region", "valid", "factor", "source"].map((k) => el("th", { scope: "col", class: k === "factor" ? "r" : null, text: t(k) })),
            ),
          ),
          el(
            "tbody",
            {},
            ...m.emission_factors_used.map((f) =>
              el(
                "tr",
                {},
                el("td", { text: `${f.region} (${f.kind})` }),
                el("td", { text: `${f.valid_from} – ${f.valid_to}` }),
                el("td", { class: "r", text: f.kg_co2_per_kwh }),
                el(
                  "td",
                  {},
                  `${f.publisher}, ${f.document} (${f.published_on}) `,
                  f.source_url ? el("a", { href: f.source_url, rel: "noopener", target: "_blank", text: f.source_url }) : "",
                  f.needs_verification ? el("span", { class: "badge pending", text: ` ${t("needs_verification")}` }) : "",
                ),
              ),
            ),
          ),
        ),
      )
    : el("p", { class: "note", text: t("no_emission_factors") });
  const bondCode = (id) => state.bonds.find((b) => b.id === id)?.code ?? id;
  box.replaceChildren(
    ...benchmarks,
    el("h4", { text: t("emission_factors") }),
    factors,
    el("h4", { text: t("attribution") }),
    el("ul", {}, ...m.attribution.map((a) => el("li", { text: t("attribution_text", { bond: bondCode(a.bond_id), share: formatPercent(a.financing_share, locale()) }) }))),
  );
}

function renderCheckpoints() {
  const statusKey = { confirmed: "status_confirmed", sent: "status_sent", pending: "status_cp_pending" };
  const rows = state.checkpoints.map((c) =>
    el(
      "tr",
      { "data-checkpoint": c.number ?? "" },
      el("th", { scope: "row", text: c.number ?? "—" }),
      el("td", {}, el("span", { class: `badge ${c.status}`, text: statusKey[c.status] ? t(statusKey[c.status]) : c.status })),
      el("td", { class: "r", text: formatNumber(c.tree_size, 0, locale()) }),
      el("td", { text: dateTime(c.closes_at) }),
      el("td", {}, c.tx_hash ? el("code", { title: c.tx_hash, text: shortHex(c.tx_hash) }) : "—"),
      el("td", { class: "r", text: c.block_number === null ? "—" : formatNumber(c.block_number, 0, locale()) }),
      el("td", { text: c.confirmed_at ? dateTime(c.confirmed_at) : "—" }),
    ),
  );
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 7, text: t("no_checkpoints") })));
  $("#checkpoints-table tbody").replaceChildren(...rows);
}

// Verification -------------------------------------------------------------------------------

async function runVerify(kind, id) {
  $("#verify-kind").value = kind;
  $("#verify-id").value = id;
  const rpcUrl = $("#verify-rpc").value.trim() || null;
  state.verify = { kind, id, outcome: "running" };
  renderVerify();
  $("#verify-result").scrollIntoView({ block: "nearest" });
  try {
    const bundle = await api(`${API}/proofs/${kind}/${id}`);
    const result = await verifyBundle(bundle, { kind, refId: id, rpcUrl });
    const outcome = result.checks.some((c) => c.ok === false) ? "fail" : result.ok ? "ok" : "incomplete";
    state.verify = { kind, id, outcome, bundle, ...result };
  } catch (e) {
    state.verify = { kind, id, outcome: e.code === "not_anchored" ? "not_anchored" : "fail", message: e.message, checks: [] };
  }
  renderVerify();
  $("#verify-result").focus();
}

function checkDetail(check) {
  const d = check.detail || {};
  const parts = [];
  if (d.index !== undefined) parts.push(t("leaf_index_of", { index: d.index, size: d.size }));
  if (d.key) parts.push(t(d.key, d.params || {}));
  if (d.text) parts.push(d.text);
  return parts.join(" · ");
}

function renderVerify() {
  const box = $("#verify-result");
  const v = state.verify;
  if (!v) {
    box.replaceChildren();
    delete box.dataset.outcome;
    return;
  }
  box.dataset.outcome = v.outcome;
  const kindName = t(v.kind === "reading" ? "kind_reading" : "kind_result");
  if (v.outcome === "running") {
    box.replaceChildren(el("p", { class: "outcome", text: t("verifying") }));
    return;
  }
  let headline;
  if (v.outcome === "ok") headline = t("verified", { kind: kindName, id: v.id, number: v.bundle.checkpoint.number, chain: v.bundle.checkpoint.chain_id });
  else if (v.outcome === "incomplete") headline = t("verify_incomplete", { kind: kindName, id: v.id });
  else if (v.outcome === "not_anchored") headline = t("not_anchored", { kind: kindName, id: v.id, message: v.message });
  else headline = `✗ ${t("verify_failed", { kind: kindName, id: v.id })}${v.message ? ` ${v.message}` : ""}`;
  if (v.outcome === "ok") headline = `✓ ${headline}`;
  const checks = el(
    "ul",
    { class: "checks" },
    ...v.checks.map((c) => {
      const mark = c.ok === true ? "✓" : c.ok === false ? "✗" : "–";
      const word = c.ok === true ? t("check_ok") : c.ok === false ? t("check_fail") : t("check_skipped");
      return el(
        "li",
        { "data-check": c.id, "data-ok": String(c.ok) },
        el("span", { class: "mark", "aria-hidden": "true", text: mark }),
        el("span", {}, `${t(c.id)}: ${word}`, el("span", { class: "detail", text: checkDetail(c) })),
      );
    }),
  );
  const extra = [];
  if (v.leaf) extra.push(el("details", {}, el("summary", { text: t("leaf_content") }), el("pre", { class: "leaf", text: JSON.stringify(v.leaf, null, 2) })));
  if (v.bundle) {
    const url = URL.createObjectURL(new Blob([JSON.stringify(v.bundle, null, 2)], { type: "application/json" }));
    extra.push(el("p", {}, el("a", { href: url, download: `proof-${v.kind}-${v.id}.json`, text: t("download_bundle") })));
  }
  box.replaceChildren(el("p", { class: "outcome", text: headline }), checks, ...extra);
}

// Events -------------------------------------------------------------------------------------

function wire() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      state.lang = b.dataset.lang;
      localStorage.setItem(LANG_STORAGE, state.lang);
      render();
    });
  }
  for (const b of document.querySelectorAll("[data-tz]")) {
    b.addEventListener("click", () => {
      state.tz = b.dataset.tz;
      render();
    });
  }
  for (const b of document.querySelectorAll("[data-period]")) {
    b.addEventListener("click", async () => {
      state.period = b.dataset.period;
      await guarded(loadAsset);
    });
  }
  $("#bond-select").addEventListener("change", async (e) => {
    state.bondId = Number(e.target.value);
    await guarded(loadBond);
  });
  $("#asset-select").addEventListener("change", async (e) => {
    state.assetId = Number(e.target.value);
    await guarded(loadAsset);
  });
  $("#verify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    runVerify($("#verify-kind").value, Number($("#verify-id").value));
  });
  $("#key-panel").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("#key-input").value.trim() || null;
    if (state.key) sessionStorage.setItem(KEY_STORAGE, state.key);
    $("#key-input").value = "";
    $("#key-panel").hidden = true;
    start();
  });
}

async function guarded(load) {
  document.body.dataset.ready = "false";
  try {
    await load();
    setStatus("");
  } catch (e) {
    setStatus(t("load_failed", { error: e.message }));
  }
  render();
  document.body.dataset.ready = "true";
}

window.gbtDashboard = { state, messages: MESSAGES };
wire();
start();
