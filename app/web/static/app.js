// The investor dashboard: reads the investor API only (public, or with an investor key the
// viewer types in, kept in sessionStorage), renders the bond, its assets and the anchoring, and
// verifies proof bundles in the browser. One ES module per panel, no build step: state.js
// (shared state and helpers), api.js, loading.js, overview.js, asset.js, methodology.js,
// checkpoints.js, verify-panel.js, holding-panel.js (sign-in with Ethereum and the account's
// holdings), reports-panel.js (the annual green bond report), credits-panel.js (carbon credits of
// the bond's assets); this module renders them all and wires the events.

import { MESSAGES } from "./i18n.js";
import { zoneLabel } from "./format.js";
import { $, KEY_STORAGE, LANG_STORAGE, setStatus, state, t } from "./state.js";
import { load, loadAsset, loadBond } from "./loading.js";
import { renderBondSelect, renderOverview } from "./overview.js";
import { renderAsset } from "./asset.js";
import { renderCheckpoints } from "./checkpoints.js";
import { renderVerify, runVerify } from "./verify-panel.js";
import { loadHoldings, renderHolding, restoreSession, signIn } from "./holding-panel.js";
import { loadReportList, renderReports, wireReports } from "./reports-panel.js";
import { loadCredits, renderCredits } from "./credits-panel.js";

async function start() {
  document.body.dataset.ready = "false";
  setStatus(t("loading"));
  restoreSession();
  await load();
  await Promise.all([loadHoldings(), loadReportList(), loadCredits()]);
  render();
  document.body.dataset.ready = "true";
}

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
  renderHolding();
  renderReports();
  renderCredits();
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
    await guarded(async () => {
      await loadBond();
      await Promise.all([loadReportList(), loadCredits()]);
    });
  });
  $("#asset-select").addEventListener("change", async (e) => {
    state.assetId = Number(e.target.value);
    await guarded(loadAsset);
  });
  $("#verify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    runVerify($("#verify-kind").value, Number($("#verify-id").value));
  });
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("#signin-key").value;
    $("#signin-key").value = "";
    signIn(key);
  });
  $("#key-panel").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("#key-input").value.trim() || null;
    if (state.key) sessionStorage.setItem(KEY_STORAGE, state.key);
    $("#key-input").value = "";
    $("#key-panel").hidden = true;
    start();
  });
  wireReports();
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
