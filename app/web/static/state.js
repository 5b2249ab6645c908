// Shared state of the dashboard and the small helpers every panel uses: the DOM shortcut, the
// translator, the current locale and time zone, an element builder, number and time formats.

import { LOCALES, translate } from "./i18n.js";
import { formatDateTime, formatNumber, shiftDecimal } from "./format.js";

export const API = "/v1/investor";
export const KEY_STORAGE = "gbt-investor-key";
export const LANG_STORAGE = "gbt-lang";

export const params = new URLSearchParams(location.search);
export const state = {
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
  session: null, // the sign-in: {access_token, account, expires_at}
  holding: null, // the "My holding" panel: {status, statement, checks}
};

export const $ = (selector) => document.querySelector(selector);
export const t = (key, values) => translate(state.lang, key, values);
export const locale = () => LOCALES[state.lang];
export const zone = () => (state.tz === "utc" ? "UTC" : state.homeZone);

function pickLanguage() {
  const asked = params.get("lang") || localStorage.getItem(LANG_STORAGE) || navigator.language || "en";
  return asked.toLowerCase().startsWith("ja") ? "ja" : "en";
}

export function el(tag, attrs = {}, ...children) {
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

export const mwh = (kwh) => formatNumber(shiftDecimal(kwh, 3), 3, locale());
export const tco2 = (t_) => formatNumber(t_, 3, locale());
export const kwhText = (kwh) => (kwh === null ? t("not_available") : formatNumber(kwh, 1, locale()));
export const dateTime = (iso) => formatDateTime(iso, zone(), locale());

export function metaItem(label, value) {
  return el("div", {}, el("dt", { text: label }), el("dd", { text: value }));
}

export function setStatus(text) {
  $("#status").textContent = text || "";
}
