// The investor API as the dashboard reads it: the viewer's key when one is set, ETag
// revalidation, errors with the API's code (and the fields it names), every page of a paged
// list; files offered as downloads; and the sign-in routes and the holdings, with the sign-in
// token.

import { state } from "./state.js";

export class ApiError extends Error {
  constructor(status, code, message, details = "") {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details; // "field: reason; ..." of the API's error details
  }
}

async function checked(path, init) {
  const response = await fetch(path, init);
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    const details = (body?.error?.details || []).map((d) => `${d.field}: ${d.reason}`).join("; ");
    throw new ApiError(response.status, body?.error?.code, body?.error?.message || `HTTP ${response.status}`, details);
  }
  return response;
}

async function call(path, init) {
  return (await checked(path, init)).json();
}

const keyHeader = () => (state.key ? { "X-API-Key": state.key } : {});

export async function api(path) {
  // no-cache: revalidate with the ETag every time, so the figures are never a minute stale.
  return call(path, { headers: keyHeader(), cache: "no-cache" });
}

/** A file the API offers as a download: its bytes and the name its Content-Disposition gives. */
export async function apiDownload(path) {
  const response = await checked(path, { headers: keyHeader(), cache: "no-cache" });
  const disposition = response.headers.get("Content-Disposition") || "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  const filename = encoded ? decodeURIComponent(encoded[1]) : plain ? plain[1] : null;
  return { blob: await response.blob(), filename };
}

/** Fetches a file the API offers and saves it (fetched, not followed: the investor key, when
 * the service asks for one, goes in a header, and an error answer throws instead of being saved
 * as the file). */
export async function saveDownload(path, fallbackName) {
  const { blob, filename } = await apiDownload(path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename || fallbackName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A POST of a JSON body (the sign-in routes). */
export async function postJson(path, body = {}) {
  return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** A GET with a sign-in token (an investor's own holdings; never stored by the browser). */
export async function authorized(path, token) {
  return call(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
}

export async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
