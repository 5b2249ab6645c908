// The carbon credits panel: for each credit project on an asset the shown bond finances, the
// credits issued, retired and outstanding (whole t-CO2, as the CarbonCredit contract counts
// them), the asset's CO2 avoided, the part of it issued as credits and the claimable remainder
// (what the bond's financers may still claim), a link to each issuance's monitoring report (PDF
// in the page's language), and the retirements (GET /v1/credits/projects; docs/credits.md).

import { $, el, locale, state, t } from "./state.js";
import { api, saveDownload } from "./api.js";
import { formatNumber, shiftDecimal, shortHex } from "./format.js";

const CREDITS_API = "/v1/credits";
// The API's figures as the panel shows them: whole tonnes of credits, grams of CO2 as t-CO2.
const TONNES = ["issued_t", "retired_t", "outstanding_t"];
const GRAMS = ["co2_avoided_g", "credited_co2_g", "claimable_co2_g"];

const credits = { projects: null, error: null, downloadError: null };

/** Every credit project (a failure shows in this panel only). */
export async function loadCredits() {
  credits.projects = null;
  credits.error = null;
  if (state.bondId === null) return;
  try {
    credits.projects = await api(`${CREDITS_API}/projects`);
  } catch (e) {
    credits.error = e.message;
  }
}

const tonnes = (t_) => formatNumber(String(t_), 0, locale());
const tFromG = (g) => formatNumber(shiftDecimal(String(g), 6), 3, locale());

/** The monitoring report's PDF in the page's language. */
export function reportPath(reportId) {
  const query = new URLSearchParams({ format: "pdf", lang: state.lang });
  return `${CREDITS_API}/monitoring-reports/${reportId}?${query}`;
}

async function download(event, issuance) {
  event.preventDefault();
  credits.downloadError = null;
  try {
    await saveDownload(reportPath(issuance.report_id), `monitoring-report-${issuance.report_id}.pdf`);
  } catch (e) {
    credits.downloadError = t("report_download_failed", { error: e.details || e.message });
  }
  renderCredits();
}

/** The projects on the shown bond's assets, with the asset's name as the bond lists it. */
function bondProjects() {
  if (!state.bond || !Array.isArray(credits.projects)) return [];
  const names = new Map(state.bond.allocations.map((a) => [a.asset_id, a.asset_name]));
  return credits.projects
    .filter((p) => names.has(p.project.asset_id))
    .map((p) => ({ ...p, assetName: names.get(p.project.asset_id) }));
}

function reportLinks(p) {
  if (!p.issuances.length) return el("span", { class: "muted", text: t("no_issuance") });
  return el(
    "ul",
    { class: "links" },
    ...p.issuances.map((i) =>
      el(
        "li",
        {},
        el("a", {
          href: reportPath(i.report_id),
          "data-report-id": i.report_id,
          onclick: (e) => download(e, i),
          text: t("monitoring_report_pdf", { start: i.first_day, end: i.last_day }),
        }),
      ),
    ),
  );
}

function projectRow(p) {
  const figure = (key, text) => el("td", { class: "r", "data-credit-figure": key, "data-value": String(p[key]), text });
  return el(
    "tr",
    { "data-project": p.project.id, "data-asset": p.project.asset_id },
    el("th", { scope: "row" }, el("span", { text: p.project.name }), el("br"), el("code", { text: p.project.code })),
    el("td", { text: p.assetName }),
    el("td", { class: "methodology", title: p.project.methodology_title }, el("code", { text: p.project.methodology_id }), el("br"), el("span", { class: "muted", text: p.project.methodology_title })),
    ...TONNES.map((k) => figure(k, tonnes(p[k]))),
    ...GRAMS.map((k) => figure(k, tFromG(p[k]))),
    el("td", {}, reportLinks(p)),
  );
}

function retirementRows(projects) {
  const rows = projects.flatMap((p) =>
    p.retirements.map((r) =>
      el(
        "tr",
        { "data-retirement": r.retirement_id },
        el("th", { scope: "row", text: p.project.code }),
        el("td", { class: "r", "data-value": String(r.amount_t), text: tonnes(r.amount_t) }),
        el("td", { text: r.beneficiary }),
        el("td", { text: r.purpose }),
        el("td", { text: r.period }),
        el("td", { class: "r", text: `${r.serial_first}-${r.serial_last}` }),
        el("td", {}, el("code", { title: r.tx_hash, text: shortHex(r.tx_hash) })),
      ),
    ),
  );
  return rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, text: t("no_retirements") }))];
}

export function renderCredits() {
  const message = (text) => [el("tr", {}, el("td", { colspan: 10, text }))];
  let rows = [];
  let projects = [];
  if (credits.error) rows = message(t("load_failed", { error: credits.error }));
  else if (credits.projects !== null) {
    projects = bondProjects();
    rows = projects.length ? projects.map(projectRow) : message(t("no_credit_projects"));
  }
  $("#credits-table tbody").replaceChildren(...rows);
  $("#retirements-table tbody").replaceChildren(...(credits.projects === null ? [] : retirementRows(projects)));
  $("#credits-error").textContent = credits.downloadError || "";
}
