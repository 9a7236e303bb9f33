// The gRPC-Web client, the credential, and the error policy shared by every view.
//
// - The token lives in sessionStorage only (per tab, gone when the tab closes)
//   and is sent only by the interceptor, as `authorization: Bearer …`.
// - Every RPC runs inside a "scope" (an AbortController). Leaving a view aborts
//   its scope; UNAUTHENTICATED anywhere aborts all of them.
// - An unreachable server shows the banner and is retried with backoff
//   (1, 2, 4, 8, 15, 15 … s); the banner goes when an answer arrives.
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { CallScope } from "./gen/callscope/v1/callscope_pb.js";
import { sleep } from "./dom.js";

export { Code, ConnectError };

const TOKEN_KEY = "callscope.token";

let token = null;
try {
  token = sessionStorage.getItem(TOKEN_KEY);
} catch {
  token = null;
}

export function getToken() {
  return token;
}

export function setToken(t) {
  token = t || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: keep it in memory for this page only
  }
}

const authInterceptor = (next) => (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

const transport = createGrpcWebTransport({
  baseUrl: location.origin,
  interceptors: [authInterceptor],
});

/** The CallScope client (methods are lowerCamelCase: api.watchFloor, api.getReport …). */
export const api = createClient(CallScope, transport);

// ------------------------------------------------------------ hooks set by main.js

const hooks = {
  unauthenticated: () => {},
  reachable: (ok) => {},
};

export function setHooks(h) {
  Object.assign(hooks, h);
}

// ------------------------------------------------------------ scopes

const scopes = new Set();

/** A new AbortController, aborted by abortAll() (sign-out, UNAUTHENTICATED). */
export function newScope() {
  const ac = new AbortController();
  scopes.add(ac);
  ac.signal.addEventListener("abort", () => scopes.delete(ac), { once: true });
  return ac;
}

export function abortAll() {
  for (const ac of [...scopes]) ac.abort();
  scopes.clear();
}

// ------------------------------------------------------------ errors

/** "canceled" | "unauthenticated" | "denied" | "notfound" | "unreachable" | "other" */
export function classify(e) {
  const err = ConnectError.from(e);
  switch (err.code) {
    case Code.Canceled:
      return "canceled";
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.PermissionDenied:
      return "denied";
    case Code.NotFound:
      return "notfound";
    case Code.Unavailable:
      return "unreachable";
    case Code.Unknown:
    case Code.Internal:
      // fetch() failing (no server, TLS, connection reset) or the body stream
      // breaking mid-way arrive as a TypeError wrapped in Unknown/Internal.
      if (err.cause instanceof TypeError) return "unreachable";
      if (/failed to fetch|network|load failed|missing trailer|premature|ERR_/i.test(err.rawMessage)) return "unreachable";
      return "other";
    default:
      return "other";
  }
}

/** The server's message (without connect's "[code]" prefix). */
export function message(e) {
  const err = ConnectError.from(e);
  return err.rawMessage || err.message;
}

/** An error that main.js has already handled (sign-in shown); views just stop. */
export class Handled extends Error {}

function settle(e) {
  const kind = classify(e);
  if (kind === "unauthenticated") {
    hooks.unauthenticated();
    throw new Handled("unauthenticated");
  }
  if (kind === "canceled") throw new Handled("canceled");
  throw e;
}

const BACKOFF = [1000, 2000, 4000, 8000, 15000];

/**
 * A unary call, retried with backoff while the server is unreachable.
 * `fn(signal)` makes the call. Throws Handled when aborted or signed out, or
 * the ConnectError (denied, not found, …) for the view to show.
 */
export async function unary(scope, fn) {
  for (let attempt = 0; ; attempt++) {
    if (scope.signal.aborted) throw new Handled("canceled");
    try {
      const res = await fn(scope.signal);
      hooks.reachable(true);
      return res;
    } catch (e) {
      if (scope.signal.aborted) throw new Handled("canceled");
      if (classify(e) === "unreachable") {
        hooks.reachable(false);
        await sleep(BACKOFF[Math.min(attempt, BACKOFF.length - 1)], scope.signal);
        continue;
      }
      settle(e);
    }
  }
}

/**
 * A server stream, reopened with backoff when it breaks (server unreachable,
 * connection lost). `open(signal)` returns the async iterable; `onMessage(m)`
 * gets every message; `onRestart()` is called before a reopen. Resolves when the
 * stream ends normally; throws like unary() otherwise.
 */
export async function stream(scope, open, onMessage, onRestart) {
  let attempt = 0;
  for (;;) {
    if (scope.signal.aborted) throw new Handled("canceled");
    let got = false;
    try {
      for await (const m of open(scope.signal)) {
        if (!got) {
          got = true;
          attempt = 0;
          hooks.reachable(true);
        }
        onMessage(m);
      }
      hooks.reachable(true);
      return;
    } catch (e) {
      if (scope.signal.aborted) throw new Handled("canceled");
      const kind = classify(e);
      if (kind === "unreachable") {
        hooks.reachable(false);
        await sleep(BACKOFF[Math.min(attempt++, BACKOFF.length - 1)], scope.signal);
        onRestart?.();
        continue;
      }
      settle(e);
    }
  }
}

/** Concatenates a stream of `{data: Uint8Array}` chunks into a Blob. */
export async function collectBlob(scope, open, type) {
  const parts = [];
  await stream(
    scope,
    open,
    (m) => parts.push(m.data),
    () => parts.splice(0),
  );
  return new Blob(parts, { type });
}
