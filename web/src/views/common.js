// Pieces several views share: error boxes and the guard that shows them.
import { classify, message, Handled } from "../api.js";
import { h, fill } from "../dom.js";

export function deniedBox(msg) {
  return h(
    "div",
    { class: "notice denied", role: "alert", "data-testid": "denied" },
    h("strong", null, "Permission denied. "),
    msg,
  );
}

export function errorBox(msg) {
  return h("div", { class: "notice error", role: "alert" }, msg);
}

export function emptyBox(msg, testid) {
  return h("div", { class: "notice empty", "data-testid": testid || null }, msg);
}

/**
 * Runs `fn()`; on failure shows the error in `el`: PERMISSION_DENIED with the
 * server's message, NOT_FOUND through `onNotFound` when given, anything else as
 * an error. Aborted work and sign-out (Handled) show nothing.
 */
export async function guard(el, fn, onNotFound) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Handled) return undefined;
    const kind = classify(e);
    if (kind === "canceled") return undefined;
    if (kind === "denied") fill(el, deniedBox(message(e)));
    else if (kind === "notfound" && onNotFound) onNotFound(e);
    else fill(el, errorBox(`Error: ${message(e)}`));
    if (!(kind === "denied" || kind === "notfound")) console.error(e);
    return undefined;
  }
}

/** A section with a heading. */
export function section(title, attrs, ...children) {
  return h("section", { class: "panel", ...(attrs || {}) }, h("h2", null, title), ...children);
}

/** A simple table: columns [{label, cls}], rows as arrays of cell contents. */
export function table(columns, rows, attrs) {
  return h(
    "table",
    { class: "grid", ...(attrs || {}) },
    h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.cls || null }, c.label)))),
    h(
      "tbody",
      null,
      rows.map((r) => (r instanceof Node ? r : h("tr", null, r.map((cell, i) => h("td", { class: columns[i]?.cls || null }, cell))))),
    ),
  );
}

/** "pan" → "card number" etc. for redaction kinds. */
export function redactionKind(k) {
  return { pan: "card number", cvv: "security code", expiry: "expiry date", dtmf: "keypad entry" }[k] || k;
}
