// callscope console: shell (sign-in, navigation, banner) and hash routing.
//
// Routes: #/floor, #/call, #/call/<id>, #/review, #/review/<id>,
// #/compliance, #/compliance/<id>. Each view module exports
// `render(ctx)`; ctx.scope is aborted when the route changes.
import "./app.css";
import { api, abortAll, newScope, setHooks, setToken, getToken, unary, Handled } from "./api.js";
import { h, fill } from "./dom.js";
import * as floor from "./views/floor.js";
import * as call from "./views/call.js";
import * as review from "./views/review.js";
import * as compliance from "./views/compliance.js";
import { deniedBox } from "./views/common.js";

const VIEWS = { floor, call, review, compliance };
const ORDER = ["floor", "call", "review", "compliance"];
const LABELS = { floor: "Floor", call: "Calls", review: "Review", compliance: "Compliance" };

// Test and measurement hooks (see web/README.md).
window.__cs = { floorLatencyMs: [], firstPaintMs: null, role: null, view: null };

const state = {
  who: null, // WhoAmIResponse
  scope: null, // the current view's AbortController
  cleanup: null,
};

// ------------------------------------------------------------ shell

const root = document.getElementById("app");
const navEl = h("nav", { class: "nav", "aria-label": "Views" });
const whoEl = h("div", { class: "who" });
const bannerSlot = h("div", { class: "banner-slot" });
const mainEl = h("main", { class: "view", id: "view", tabindex: "-1" });
const header = h(
  "header",
  { class: "top" },
  h("a", { class: "brand", href: "#/" }, "callscope"),
  navEl,
  whoEl,
);
fill(root, header, bannerSlot, mainEl);

let bannerShown = false;
function setReachable(ok) {
  if (ok === !bannerShown) return;
  bannerShown = !ok;
  if (ok) {
    bannerSlot.replaceChildren();
  } else {
    fill(
      bannerSlot,
      h("div", { class: "banner", role: "alert", "data-testid": "banner-error" }, "Server not reachable, retrying…"),
    );
  }
}

setHooks({
  reachable: setReachable,
  unauthenticated: () => {
    const had = getToken() !== null || state.who !== null;
    signOut(had ? "Your token was not accepted or has been revoked. Sign in again." : null);
  },
});

// ------------------------------------------------------------ sign-in

function stopView() {
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch {
      // a view's cleanup failing must not stop navigation
    }
  }
  state.cleanup = null;
  state.scope?.abort();
  state.scope = null;
}

function signOut(msg) {
  abortAll();
  stopView();
  setToken(null);
  state.who = null;
  window.__cs.role = null;
  showSignin(msg);
}

function showSignin(msg) {
  navEl.replaceChildren();
  whoEl.replaceChildren();
  header.classList.add("signed-out");
  const input = h("input", {
    id: "signin-token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "data-testid": "signin-token",
    "aria-describedby": "signin-help",
  });
  const msgEl = h("p", { class: "signin-msg", role: "alert" }, msg || "");
  const btn = h("button", { type: "submit", class: "primary", "data-testid": "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", autocomplete: "off" },
    h("h1", null, "Sign in to callscope"),
    h("label", { for: "signin-token" }, "Access token"),
    input,
    h(
      "p",
      { id: "signin-help", class: "help" },
      "Paste the token your administrator gave you (cs_…). It is kept only in this tab and forgotten when the tab closes.",
    ),
    btn,
    msgEl,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    btn.disabled = true;
    msgEl.textContent = "Checking…";
    setToken(t);
    input.value = "";
    const ok = await identify();
    if (!ok) btn.disabled = false;
  });
  fill(mainEl, form);
  input.focus();
}

/** WhoAmI with the current credential (token, client certificate or none). */
async function identify() {
  const scope = newScope();
  try {
    const who = await unary(scope, (signal) => api.whoAmI({}, { signal }));
    signedIn(who);
    return true;
  } catch (e) {
    if (!(e instanceof Handled)) {
      // another error: show it on the sign-in screen
      showSignin(`Sign-in failed: ${e.rawMessage || e.message}`);
    }
    return false;
  }
}

function signedIn(who) {
  state.who = who;
  window.__cs.role = who.role;
  header.classList.remove("signed-out");
  const views = ORDER.filter((v) => who.views.includes(v));
  fill(
    navEl,
    views.map((v) =>
      h("a", { href: `#/${v}`, "data-testid": `nav-${v}`, "data-view": v }, v === "call" && who.role !== "agent" ? "Live call" : LABELS[v]),
    ),
  );
  fill(
    whoEl,
    h("span", { class: "who-name" }, who.name || "—"),
    h("span", { class: "role-badge" }, who.role + (who.agentId ? ` · ${who.agentId}` : "")),
    h("button", { type: "button", class: "link", "data-testid": "signout", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
  route();
}

// ------------------------------------------------------------ routing

function allowed(view) {
  return !!state.who && state.who.views.includes(view);
}

function route() {
  if (!state.who) return;
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, ...rest] = hash.split("/");
  const id = rest.length ? decodeURIComponent(rest.join("/")) : null;
  if (!name || !VIEWS[name]) {
    const first = ORDER.find(allowed);
    if (!first) {
      stopView();
      fill(mainEl, deniedBox(`The role "${state.who.role}" may not open any console view.`));
      return;
    }
    location.replace(`#/${first}`);
    return;
  }
  stopView();
  for (const a of navEl.querySelectorAll("a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  window.__cs.view = name;
  mainEl.replaceChildren();
  if (!allowed(name)) {
    fill(mainEl, deniedBox(`The role "${state.who.role}" may not open the ${name} view.`));
    return;
  }
  const scope = newScope();
  state.scope = scope;
  document.title = `${LABELS[name]}${id ? ` · ${id}` : ""} — callscope`;
  state.cleanup = VIEWS[name].render({ root: mainEl, scope, id, who: state.who, allowed }) || null;
}

window.addEventListener("hashchange", route);

// ------------------------------------------------------------ start

// A browser with a client certificate gets a role without a token, so ask
// WhoAmI first (with the tab's token if it has one) and sign in only if refused.
fill(mainEl, h("p", { class: "muted" }, "Connecting…"));
identify();
