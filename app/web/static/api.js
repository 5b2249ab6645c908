// The investor API as the dashboard reads it: the viewer's key when one is set, ETag
// revalidation, errors with the API's code, and every page of a paged list.

import { state } from "./state.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path) {
  const headers = state.key ? { "X-API-Key": state.key } : {};
  // no-cache: revalidate with the ETag every time, so the figures are never a minute stale.
  const response = await fetch(path, { headers, cache: "no-cache" });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body?.error?.code, body?.error?.message || `HTTP ${response.status}`);
  }
  return response.json();
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
