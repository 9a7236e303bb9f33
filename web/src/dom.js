// Small DOM helpers. Everything is built with createElement and textContent:
// no innerHTML, so no server text is ever parsed as markup, and nothing
// needs an inline style (the page runs under a strict CSP).

/**
 * h("div", {class: "x", "data-testid": "y", onclick: fn}, child, "text", [more])
 * Attributes whose value is null, undefined or false are left out; `true` sets an
 * empty attribute. Keys starting with "on" add event listeners.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        el.addEventListener(k.slice(2), v);
      } else if (k === "value" && "value" in el) {
        el.value = v;
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets textContent only when it changed (keeps layout and selection stable). */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Seconds as m:ss (or h:mm:ss). */
export function mmss(s) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const t = Math.floor(s);
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** A number with a fixed count of decimals, or "—" when missing. */
export function num(x, digits = 1) {
  return x === null || x === undefined || !Number.isFinite(Number(x)) ? "—" : Number(x).toFixed(digits);
}

export function pct(x) {
  return x === null || x === undefined || !Number.isFinite(Number(x)) ? "—" : `${Math.round(Number(x) * 100)} %`;
}

/** Speaker enum or report string → "agent" / "customer" / "—". */
export function speakerName(s) {
  if (s === 1 || s === "agent") return "agent";
  if (s === 2 || s === "customer") return "customer";
  return "—";
}

/** "2026-12-02T09:17:21Z" or unix seconds → "2026-12-02 09:17:21" (UTC). */
export function utc(x) {
  if (x === null || x === undefined || x === "") return "—";
  if (typeof x === "bigint" || typeof x === "number") {
    const n = Number(x);
    if (!n) return "—";
    return new Date(n * 1000).toISOString().replace("T", " ").slice(0, 19);
  }
  return String(x).replace("T", " ").replace(/Z$/, "").replace(/\.\d+$/, "");
}

/** A table row that opens `href` on click or Enter (keyboard focusable). */
export function linkRow(tr, href) {
  tr.tabIndex = 0;
  tr.classList.add("clickable");
  tr.addEventListener("click", (e) => {
    if (e.target.closest("a,button")) return;
    location.hash = href;
  });
  tr.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target === tr) {
      e.preventDefault();
      location.hash = href;
    }
  });
  return tr;
}

export const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
