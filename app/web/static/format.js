// Numbers and times for display. The API sends decimals as strings ("1234.567"); they are
// formatted as exact decimals (Intl.NumberFormat takes strings), never through a float sum.

/** The decimal string `value` divided by 10**places, exactly ("1234.5", 3 -> "1.2345"). */
export function shiftDecimal(value, places) {
  let text = String(value).trim();
  const negative = text.startsWith("-");
  if (negative || text.startsWith("+")) text = text.slice(1);
  let [whole, fraction = ""] = text.split(".");
  whole = whole.padStart(places + 1, "0");
  const cut = whole.length - places;
  const out = `${whole.slice(0, cut)}.${whole.slice(cut)}${fraction}`.replace(/^0+(?=\d)/, "");
  return negative ? `-${out}` : out;
}

/** Exact sum of decimal strings (scaled to integers with BigInt). */
export function sumDecimals(values) {
  const scale = Math.max(0, ...values.map((v) => (String(v).split(".")[1] ?? "").length));
  let total = 0n;
  for (const v of values) {
    const [whole, fraction = ""] = String(v).replace("-", "").split(".");
    const scaled = BigInt(whole + fraction.padEnd(scale, "0"));
    total += String(v).startsWith("-") ? -scaled : scaled;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const out = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${out}` : out;
}

/** A decimal string with exactly `decimals` fraction digits and thousands separators. */
export function formatNumber(value, decimals, locale) {
  if (value === null || value === undefined) return null;
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  }).format(String(value));
}

export function formatPercent(value, locale) {
  return new Intl.NumberFormat(locale, {
    style: "percent",
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(String(value));
}

export function formatMoney(value, currency, locale) {
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(String(value));
}

const ZONE_ABBREVIATIONS = { "Asia/Tokyo": "JST", UTC: "UTC", "Etc/UTC": "UTC" };

/** A short, stable name for a time zone: JST for Asia/Tokyo, else what Intl calls it. */
export function zoneLabel(timeZone) {
  if (ZONE_ABBREVIATIONS[timeZone]) return ZONE_ABBREVIATIONS[timeZone];
  const part = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "short" })
    .formatToParts(new Date())
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : timeZone;
}

/** An ISO timestamp in `timeZone`, with the zone named ("2026-01-12 09:00 JST"). */
export function formatDateTime(iso, timeZone, locale) {
  if (!iso) return null;
  const parts = new Intl.DateTimeFormat(locale, {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")} ${zoneLabel(timeZone)}`;
}

/** "5 minutes ago" in the page's language. */
export function formatAge(iso, locale, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(seconds, "second");
}

export function shortHex(hex, keep = 10) {
  if (!hex) return "";
  return hex.length <= keep * 2 + 1 ? hex : `${hex.slice(0, keep)}…${hex.slice(-6)}`;
}
