// The reports panel: the issuer's annual green bond report (allocation and impact) for a fiscal
// year (April to March, Japan) or a calendar year, in English or Japanese. Downloads in four
// formats from GET /v1/investor/bonds/{id}/reports/annual, a summary of its JSON (status,
// checkpoint, content hash, whether the report is in the log, the bond's attributed figures),
// and the reports published so far (GET /v1/investor/bonds/{id}/reports).

import { $, API, el, locale, state, t } from "./state.js";
import { api, saveDownload } from "./api.js";
import { formatNumber, shiftDecimal, shortHex } from "./format.js";

const FORMATS = ["json", "csv", "xlsx", "pdf"];
const REPORT_ZONE = "Asia/Tokyo"; // the API's default period is the fiscal year in progress there

/** The year of the fiscal (April to March) or calendar year in progress in Tokyo. */
export function yearInProgress(kind, now = new Date()) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: REPORT_ZONE, year: "numeric", month: "numeric" }).formatToParts(now);
  const year = Number(parts.find((p) => p.type === "year").value);
  const month = Number(parts.find((p) => p.type === "month").value);
  return kind === "fiscal_year" && month < 4 ? year - 1 : year;
}

// The chosen period and language; the JSON summary and the list of published reports as loaded.
const report = { kind: "fiscal_year", year: yearInProgress("fiscal_year"), lang: null, summary: null, list: null, error: null };

const reportLang = () => report.lang ?? state.lang;

// The JSON is the same in either language (only the formats are written in one), so a summary
// belongs to a bond and a period.
const periodKey = () => `${state.bondId}/${report.kind}/${report.year}`;

/** The report's URL for these parameters (the links' href and what the page fetches). */
function reportPath(format) {
  const query = new URLSearchParams({ [report.kind]: String(report.year), lang: reportLang(), format });
  return `${API}/bonds/${state.bondId}/reports/annual?${query}`;
}

/** The reports published so far for the bond shown (a failure shows in this panel only). */
export async function loadReportList() {
  report.list = null;
  if (state.bondId === null) return;
  try {
    report.list = (await api(`${API}/bonds/${state.bondId}/reports`)).items;
  } catch (e) {
    report.list = { error: e.message };
  }
}

async function showSummary() {
  const path = reportPath("json");
  const key = periodKey();
  report.summary = { status: "loading", key };
  renderReports();
  try {
    report.summary = { status: "loaded", body: await api(path), key };
    // A final report is published the first time it is built: the list may have grown.
    if (report.summary.body.status === "final") await loadReportList();
  } catch (e) {
    report.summary = { status: "error", message: e.details || e.message, key };
  }
  renderReports();
}

async function download(event, format) {
  event.preventDefault();
  report.error = null;
  try {
    await saveDownload(reportPath(format), `report-${state.bondId}-${report.kind}-${report.year}.${format}`);
  } catch (e) {
    report.error = t("report_download_failed", { error: e.details || e.message });
  }
  renderReports();
}

export function wireReports() {
  $("#report-kind").addEventListener("change", (e) => {
    // A year the viewer left at its default follows the kind's own default.
    if (report.year === yearInProgress(report.kind)) report.year = yearInProgress(e.target.value);
    report.kind = e.target.value;
    renderReports();
  });
  $("#report-year").addEventListener("input", (e) => {
    if (e.target.validity.valid && e.target.value) report.year = Number(e.target.value);
    renderReports();
  });
  $("#report-lang").addEventListener("change", (e) => {
    report.lang = e.target.value;
    renderReports();
  });
  $("#report-form").addEventListener("submit", (e) => {
    e.preventDefault();
    showSummary();
  });
}

const mwhFromWh = (wh) => formatNumber(shiftDecimal(String(wh), 6), 3, locale());
const tFromG = (g) => formatNumber(shiftDecimal(String(g), 6), 3, locale());

function loggedText(logged) {
  if (logged.state === "logged") return t("report_logged", { index: formatNumber(logged.leaf_index, 0, locale()) });
  return t(logged.state === "queued" ? "report_queued" : "report_not_logged");
}

function summaryView(s) {
  if (s.status === "loading") return el("p", { class: "outcome", text: t("loading") });
  if (s.status === "error") return el("p", { class: "outcome error", role: "alert", text: `✗ ${t("report_failed")} ${s.message}` });
  const { content, content_sha256: sha, status, logged } = s.body;
  const period = content.period;
  const cp = content.checkpoint;
  const portfolio = content.impact.portfolio;
  const item = (key, value, attrs = {}) => el("div", {}, el("dt", { text: t(key) }), el("dd", attrs, value));
  return el(
    "div",
    { class: "report-summary" },
    el("h3", { text: t("report_of", { label: period.label, start: period.start, end: period.end }) }),
    el(
      "dl",
      { class: "meta" },
      item("status", el("span", { class: `badge ${status === "final" ? "anchored" : "provisional"}`, "data-report-status": status, text: t(`report_${status}`) })),
      item("checkpoint", cp ? formatNumber(cp.number, 0, locale()) : t("none"), { "data-report-checkpoint": cp ? cp.number : "" }),
      item("report_log", loggedText(logged), { "data-report-logged": logged.state }),
    ),
    el("p", { class: "hash" }, `${t("content_sha256")}: `, el("code", { "data-report-sha256": sha, text: sha })),
    el(
      "div",
      { class: "cards" },
      el("article", { class: "card" }, el("h4", { text: t("report_energy") }), el("p", { class: "big" }, el("span", { class: "num", "data-report-figure": "energy", text: mwhFromWh(portfolio.attributed_energy_savings_wh) }), " ", el("span", { class: "unit", text: "MWh" }))),
      el("article", { class: "card" }, el("h4", { text: t("report_co2") }), el("p", { class: "big" }, el("span", { class: "num", "data-report-figure": "co2", text: tFromG(portfolio.attributed_co2_avoided_g) }), " ", el("span", { class: "unit", text: "t-CO2" }))),
    ),
    el("p", { class: "note", text: t(status === "final" ? "report_final_note" : "report_provisional_note") }),
  );
}

function listRows() {
  if (report.list === null) return [];
  if (!Array.isArray(report.list)) return [el("tr", {}, el("td", { colspan: 5, text: t("load_failed", { error: report.list.error }) }))];
  if (!report.list.length) return [el("tr", {}, el("td", { colspan: 5, text: t("no_reports") }))];
  return report.list.map((r) =>
    el(
      "tr",
      { "data-report": r.period_label },
      el("th", { scope: "row", text: r.period_label }),
      el("td", { text: t("date_range", { start: r.period_start, end: r.period_end }) }),
      el("td", { class: "r", text: formatNumber(r.checkpoint_number, 0, locale()) }),
      el("td", {}, el("code", { title: r.content_sha256, text: shortHex(r.content_sha256) })),
      el("td", { class: "r", text: r.leaf_index === null ? t("report_queued") : formatNumber(r.leaf_index, 0, locale()) }),
    ),
  );
}

export function renderReports() {
  $("#report-kind").value = report.kind;
  if (Number($("#report-year").value) !== report.year) $("#report-year").value = String(report.year);
  $("#report-lang").value = reportLang();
  const links = FORMATS.map((format) =>
    el("li", {}, el("a", { href: reportPath(format), "data-format": format, onclick: (e) => download(e, format), text: format.toUpperCase() })),
  );
  $("#report-links").replaceChildren(...(state.bondId === null ? [] : links));
  $("#report-error").textContent = report.error || "";
  // A summary answers the period it was asked for; another period asks again.
  const s = report.summary;
  $("#report-result").replaceChildren(...(s && s.key === periodKey() ? [summaryView(s)] : []));
  $("#reports-table tbody").replaceChildren(...listRows());
}
