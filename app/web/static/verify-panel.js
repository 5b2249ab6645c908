// The verify panel: fetch a reading's or result's proof bundle and check it in the browser
// (verify.js: leaf hash, audit path, and the root against the contract over JSON-RPC).

import { $, API, el, state, t } from "./state.js";
import { api } from "./api.js";
import { verifyBundle } from "./verify.js";

export async function runVerify(kind, id) {
  $("#verify-kind").value = kind;
  $("#verify-id").value = id;
  const rpcUrl = $("#verify-rpc").value.trim() || null;
  state.verify = { kind, id, outcome: "running" };
  renderVerify();
  $("#verify-result").scrollIntoView({ block: "nearest" });
  try {
    const bundle = await api(`${API}/proofs/${kind}/${id}`);
    const result = await verifyBundle(bundle, { kind, refId: id, rpcUrl, format: state.config.bundle_format });
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

export function renderVerify() {
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
