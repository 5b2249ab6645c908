// The checkpoints panel: each checkpoint on chain with its status, tree size, transaction and
// block.

import { $, dateTime, el, locale, state, t } from "./state.js";
import { formatNumber, shortHex } from "./format.js";

export function renderCheckpoints() {
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
