// The overview panel: the bond's terms, its impact since issuance (attributed and for its
// assets in total), the anchored totals, the allocation of proceeds and the data freshness.

import { $, dateTime, el, locale, metaItem, mwh, state, t, tco2 } from "./state.js";
import { formatAge, formatMoney, formatNumber, formatPercent } from "./format.js";

export function renderBondSelect() {
  const select = $("#bond-select");
  select.replaceChildren(
    ...state.bonds.map((b) => el("option", { value: b.id, selected: b.id === state.bondId, text: `${b.code} — ${b.name}` })),
  );
}

function setNumber(selector, apiValue, text) {
  const node = $(selector);
  node.textContent = text ?? "";
  node.dataset.value = apiValue ?? "";
}

export function renderOverview() {
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
