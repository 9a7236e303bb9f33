// Development proxy: serves web/dist/ fresh from disk at / and /assets/*, and
// forwards everything else (gRPC-Web) to a running `callscope serve`, so the
// console can be changed and reloaded without rebuilding the Rust binary.
//
//   node dev/proxy.mjs --backend https://127.0.0.1:50051 --ca ca.pem \
//        --cert server.pem --key server.key [--listen 127.0.0.1:8443]
//
// Node built-ins only. Same CSP as the server (src/grpc/web.rs).
import http2 from "node:http2";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const [host, port] = (args.listen || "127.0.0.1:8443").split(":");
const backend = args.backend || "https://127.0.0.1:50051";
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const FILES = { "/": ["index.html", "text/html; charset=utf-8"], "/assets/app.js": ["app.js", "text/javascript; charset=utf-8"], "/assets/app.css": ["app.css", "text/css; charset=utf-8"] };

let upstream = null;
function up() {
  if (!upstream || upstream.closed || upstream.destroyed) {
    upstream = http2.connect(backend, { ca: args.ca ? fs.readFileSync(args.ca) : undefined });
    upstream.on("error", (e) => console.error("upstream:", e.message));
  }
  return upstream;
}

const server = http2.createSecureServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key), allowHTTP1: false });
server.on("stream", (stream, headers) => {
  const p = headers[":path"];
  const f = headers[":method"] === "GET" && FILES[p];
  if (f) {
    stream.respond({ ":status": 200, "content-type": f[1], "content-security-policy": CSP, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    stream.end(fs.readFileSync(path.join(dist, f[0])));
    return;
  }
  const fwd = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":") || k === ":method" || k === ":path") fwd[k] = v;
  let req;
  try {
    req = up().request(fwd);
  } catch (e) {
    stream.respond({ ":status": 502 });
    stream.end();
    return;
  }
  req.on("response", (h) => {
    const out = {};
    for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") || k === ":status") out[k] = v;
    if (!stream.destroyed) stream.respond(out);
  });
  req.on("error", () => stream.destroyed || stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  stream.on("close", () => req.destroyed || req.close(http2.constants.NGHTTP2_CANCEL));
  stream.pipe(req);
  req.pipe(stream);
});
server.listen(Number(port), host, () => console.log(`console proxy on https://${host}:${port} → ${backend}`));
