// The "My holding" panel: sign in with an account's key (Sign-In with Ethereum: the message is
// built and signed here, siwe.js; the key is never sent), read the account's holdings from
// GET /v1/investor/holdings with the sign-in token, and check each holding on chain with the
// token's own holderImpactAt (holding.js). Both are imported when first needed: they load the
// @noble libraries, and the rest of the page must not depend on those.

import { $, API, el, locale, state, t, tco2, dateTime } from "./state.js";
import { authorized, postJson } from "./api.js";
import { formatNumber, shortHex } from "./format.js";

export const SESSION_STORAGE = "gbt-investor-session";
// ASCII only: EIP-4361 allows no other characters in the statement.
const STATEMENT = "Sign in to the green bond impact dashboard to see my holdings.";
const MESSAGE_LIFETIME_MS = 15 * 60 * 1000;

export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_STORAGE) || "null");
    if (saved && new Date(saved.expires_at) > new Date()) state.session = saved;
  } catch {
    sessionStorage.removeItem(SESSION_STORAGE);
  }
}

export async function signIn(keyText) {
  state.holding = { status: "signing_in" };
  renderHolding();
  try {
    const { accountFromKey, personalSign, siweMessage } = await import("./siwe.js");
    const account = accountFromKey(keyText);
    const asked = await postJson(`${API}/auth/nonce`);
    const now = Date.now();
    const message = siweMessage({
      domain: location.host,
      address: account.address,
      statement: STATEMENT,
      uri: `${location.origin}/dashboard/`,
      chainId: asked.chain_id,
      nonce: asked.nonce,
      issuedAt: new Date(now).toISOString(),
      expirationTime: new Date(now + MESSAGE_LIFETIME_MS).toISOString(),
    });
    const signature = personalSign(message, account.secretKey);
    state.session = await postJson(`${API}/auth/siwe`, { message, signature });
    sessionStorage.setItem(SESSION_STORAGE, JSON.stringify(state.session));
    await loadHoldings();
  } catch (e) {
    state.holding = { status: "error", message: e.details || e.message };
    renderHolding();
  }
}

export function signOut() {
  state.session = null;
  state.holding = null;
  sessionStorage.removeItem(SESSION_STORAGE);
  renderHolding();
}

export async function loadHoldings() {
  if (!state.session) return;
  try {
    const statement = await authorized(`${API}/holdings`, state.session.access_token);
    state.holding = { status: "loaded", statement, checks: {} };
  } catch (e) {
    if (e.status === 401) {
      signOut();
      state.holding = { status: "error", message: t("session_expired") };
    } else state.holding = { status: "error", message: e.message };
  }
  renderHolding();
}

export async function runChainCheck(holding) {
  const rpcUrl = $("#verify-rpc").value.trim() || state.config?.chain_rpc_url;
  const checks = state.holding.checks;
  checks[holding.bond_id] = { status: "running" };
  renderHolding();
  try {
    if (!rpcUrl) throw new Error(t("no_rpc"));
    const { checkHolding } = await import("./holding.js");
    const results = await checkHolding(holding, state.session.account, rpcUrl);
    checks[holding.bond_id] = { status: results.every((c) => c.ok) ? "ok" : "fail", results };
  } catch (e) {
    checks[holding.bond_id] = { status: "fail", results: [], message: e.message };
  }
  renderHolding();
}

const units = (n) => formatNumber(n, 0, locale());
const kwh = (value) => formatNumber(value, 1, locale());

function holdingCard(h) {
  const impact = h.impact;
  const share = h.total_supply_units ? (100 * h.holding_units) / h.total_supply_units : 0;
  const meta = [
    [t("holding_units"), `${units(h.holding_units)} / ${units(h.total_supply_units)} (${formatNumber(share, 2, locale())}%)`],
    [t("holding_parts"), t("holding_parts_value", { free: units(h.balance_units), locked: units(h.locked_units), pending: units(h.pending_units) })],
    [t("token"), shortHex(h.token_address)],
    [t("at_block"), units(h.block_number)],
  ];
  if (h.acquired_at) meta.push([t("acquired_at"), dateTime(h.acquired_at)]);
  const figures = impact
    ? el(
        "div",
        { class: "cards" },
        el("article", { class: "card" }, el("h4", { text: t("holding_reduction") }), el("p", { class: "big" }, el("span", { class: "num", "data-figure": "reduction", text: kwh(impact.energy_reduction_kwh) }), " ", el("span", { class: "unit", text: "kWh" }))),
        el("article", { class: "card" }, el("h4", { text: t("holding_co2") }), el("p", { class: "big" }, el("span", { class: "num", "data-figure": "co2", text: tco2(impact.co2_avoided_t) }), " ", el("span", { class: "unit", text: "t-CO2" }))),
      )
    : el("p", { class: "note", text: t("holding_no_impact", { reason: h.impact_unavailable }) });
  const note = impact ? el("p", { class: "note", text: t("holding_basis", { number: impact.checkpoint_number, block: units(h.block_number) }) }) : null;
  const check = state.holding.checks[h.bond_id];
  const button = impact ? el("button", { type: "button", class: "chain-check", onclick: () => runChainCheck(h), text: t("check_on_chain") }) : null;
  return el(
    "article",
    { class: "holding", "data-bond": h.bond_id },
    el("h3", { text: `${h.bond_name} (${h.bond_code})` }),
    el("dl", { class: "meta" }, ...meta.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v })))),
    figures,
    note,
    button,
    check ? checkResult(check) : null,
  );
}

function checkResult(check) {
  if (check.status === "running") return el("div", { class: "chain-result", "data-outcome": "running" }, el("p", { class: "outcome", text: t("verifying") }));
  const headline = check.status === "ok" ? `✓ ${t("chain_check_ok")}` : `✗ ${t("chain_check_fail")}${check.message ? ` ${check.message}` : ""}`;
  const items = check.results.map((c) =>
    el(
      "li",
      { "data-check": c.id, "data-ok": String(c.ok) },
      el("span", { class: "mark", "aria-hidden": "true", text: c.ok ? "✓" : "✗" }),
      el("span", {}, `${t(c.id)}: ${c.ok ? t("check_ok") : t("check_fail")}`, el("span", { class: "detail", text: t("stated_on_chain", { stated: String(c.stated), chain: String(c.onChain) }) })),
    ),
  );
  return el("div", { class: "chain-result", "data-outcome": check.status }, el("p", { class: "outcome", text: headline }), el("ul", { class: "checks" }, ...items));
}

export function renderHolding() {
  const signedIn = Boolean(state.session);
  $("#signin-form").hidden = signedIn;
  const box = $("#holding-result");
  const h = state.holding;
  const parts = [];
  if (signedIn) {
    parts.push(
      el(
        "p",
        { class: "signed-in" },
        t("signed_in_as", { account: state.session.account }),
        " ",
        el("button", { type: "button", id: "signout-button", onclick: signOut, text: t("sign_out") }),
      ),
    );
  }
  if (h?.status === "signing_in") parts.push(el("p", { class: "outcome", text: t("signing_in") }));
  if (h?.status === "error") parts.push(el("p", { class: "outcome error", role: "alert", text: `✗ ${t("sign_in_failed")} ${h.message}` }));
  if (h?.status === "loaded") {
    const s = h.statement;
    if (!s.holdings.length) parts.push(el("p", { class: "note", text: t("no_holdings") }));
    parts.push(...s.holdings.map(holdingCard));
    if (s.not_indexed.length) parts.push(el("p", { class: "note", text: t("not_indexed", { bonds: s.not_indexed.map((n) => n.bond_id).join(", ") }) }));
    const url = URL.createObjectURL(new Blob([JSON.stringify(s, null, 2)], { type: "application/json" }));
    parts.push(el("p", {}, el("a", { href: url, download: "holding-statement.json", text: t("download_statement") })));
  }
  box.replaceChildren(...parts);
}
