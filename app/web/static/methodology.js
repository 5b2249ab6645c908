// The methodology disclosure of an asset: its benchmark configurations with their baseline
// fits, the emission factors used with their sources, and the attribution to each bond.

import { $, el, locale, state, t } from "./state.js";
import { MESSAGES } from "./i18n.js";
import { formatNumber, formatPercent } from "./format.js";

function methodName(method) {
  const key = `method_${method}`;
  return key in MESSAGES.en ? t(key) : method;
}

export function renderMethodology(m) {
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
