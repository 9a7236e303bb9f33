// End-to-end test of the web console against a running `callscope serve`
// with two live (replayed) calls. Drives headless Chromium with playwright-core.
// Exits 0 on success, 1 with a message on the first failure.
//
// Environment (set by the Rust test, tests/console.rs):
//   CS_URL             https://127.0.0.1:PORT
//   CS_ARTEFACTS       directory for screenshots and results.json
//   CS_TOKEN_SUPERVISOR, CS_TOKEN_QA, CS_TOKEN_COMPLIANCE, CS_TOKEN_AGENT
//   CS_AGENT_ID        the agent of the first call (the agent token's agent)
//   CS_CALLS           [{"call_id": "...", "agent_id": "..."}, {...}]  both live at start
//   CS_CARD_DIGITS     ["6011000990139424", ...]  must never reach the browser
//   CS_TAMPER          the second call's stored recording (changed in step 5)
//   CHROMIUM           optional, default /usr/bin/chromium
//
// Steps (each leaves a screenshot in CS_ARTEFACTS): floor, call, agent,
// review/report/trends, compliance, compliance-broken. After every step the
// DOM and every byte the page fetched are scanned for the card numbers and for
// any run of 13-19 digits (decimal fractions and hex digests excepted); a find
// is reported by place and kind, never by its digits.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const T0 = Date.now();
const env = (k, d) => {
  const v = process.env[k];
  if (v === undefined || v === "") {
    if (d !== undefined) return d;
    fail(`environment variable ${k} is not set`);
  }
  return v;
};

class Failure extends Error {}
function fail(msg) {
  throw new Failure(msg);
}
function log(msg) {
  console.log(`[console e2e +${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);
}

const results = { firstPaintMs: null, floorLatencyMsP50: null, floorLatencyMsP95: null, floorUpdates: 0, steps: {}, notes: [], pageErrors: [] };
let artefacts = ".";

async function main() {
  const url = env("CS_URL").replace(/\/$/, "");
  artefacts = env("CS_ARTEFACTS");
  fs.mkdirSync(artefacts, { recursive: true });
  const tokens = {
    supervisor: env("CS_TOKEN_SUPERVISOR"),
    qa: env("CS_TOKEN_QA"),
    compliance: env("CS_TOKEN_COMPLIANCE"),
    agent: env("CS_TOKEN_AGENT"),
  };
  const agentId = env("CS_AGENT_ID");
  let calls;
  let cards;
  try {
    calls = JSON.parse(env("CS_CALLS"));
    cards = JSON.parse(env("CS_CARD_DIGITS", "[]"));
  } catch (e) {
    fail(`CS_CALLS or CS_CARD_DIGITS is not JSON: ${e.message}`);
  }
  if (!Array.isArray(calls) || calls.length < 2) fail("CS_CALLS must list two calls");
  const tamper = env("CS_TAMPER");
  const [c1, c2] = calls.map((c) => c.call_id);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--mute-audio",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  const pages = [];
  const contexts = [];
  async function newPage(name) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 768 }, acceptDownloads: true });
    contexts.push(ctx);
    await ctx.addInitScript(captureFetch);
    const page = await ctx.newPage();
    page.on("pageerror", (e) => results.pageErrors.push(`${name}: ${e.message}`));
    pages.push({ name, page, scanned: 0 });
    return page;
  }
  async function signIn(page, token, hash = "") {
    await page.goto(`${url}/${hash}`);
    const input = page.getByTestId("signin-token");
    await input.waitFor({ timeout: 20000 });
    await input.fill(token);
    await page.getByTestId("signin-submit").click();
    await page.getByTestId("signout").waitFor({ timeout: 20000 });
  }
  async function shot(page, name) {
    await page.screenshot({ path: path.join(artefacts, name) });
  }
  async function scanAll(step) {
    for (const p of pages) {
      if (p.page.isClosed()) continue;
      const found = await p.page.evaluate(scanInPage, { cards, from: p.scanned });
      p.scanned = found.capturedLength;
      if (found.problems.length) {
        fail(`step ${step}: digits that must not reach the browser: ${found.problems.map((x) => `${x.kind} in ${p.name} ${x.where} at offset ${x.pos}`).join("; ")}`);
      }
    }
  }
  async function step(name, fn) {
    const t = Date.now();
    log(`${name} …`);
    await fn();
    await scanAll(name);
    results.steps[name] = Date.now() - t;
    log(`${name} ok (${results.steps[name]} ms)`);
  }

  try {
    // ---------------------------------------------------------------- 1. floor
    let sup;
    await step("floor", async () => {
      sup = await newPage("supervisor");
      await signIn(sup, tokens.supervisor);
      await sup.waitForURL(/#\/floor$/, { timeout: 10000 }).catch(() => fail("the supervisor did not land on #/floor"));
      for (const id of [c1, c2]) {
        await sup
          .locator(`[data-testid=floor-row][data-call-id="${id}"]`)
          .waitFor({ timeout: 30000 })
          .catch(() => fail(`floor: no row for call ${id}`));
      }
      const dur = sup.locator(`[data-testid=floor-row][data-call-id="${c1}"] td.c-dur`);
      const before = await dur.innerText();
      await sup.waitForTimeout(2000);
      await waitFor(async () => (await dur.innerText()) !== before, 5000, `floor: the duration of ${c1} did not change over 2 s (stuck at ${before})`);
      await waitFor(
        async () => (await sup.getByTestId("floor-stats").getAttribute("data-calls-live")) === "2",
        10000,
        "floor: the stats strip does not show 2 live calls",
      );
      results.firstPaintMs = await sup.evaluate(() => window.__cs.firstPaintMs);
      if (results.firstPaintMs === null) fail("floor: window.__cs.firstPaintMs was not recorded");
      await sup.waitForTimeout(3000); // let latency samples accumulate
      const lat = await sup.evaluate(() => window.__cs.floorLatencyMs.slice());
      results.floorUpdates = lat.length;
      results.floorLatencyMsP50 = percentile(lat, 50);
      results.floorLatencyMsP95 = percentile(lat, 95);
      if (!lat.length) fail("floor: no floor update latency was measured (sent_unix_ms missing?)");
      await shot(sup, "floor.png");
      // Keyboard: a floor row takes focus and Enter opens its call.
      const row = sup.locator(`[data-testid=floor-row][data-call-id="${c2}"]`);
      await row.focus();
      await sup.keyboard.press("Enter");
      await sup.waitForURL(new RegExp(`#/call/${escapeRe(encodeURIComponent(c2))}$`), { timeout: 10000 }).catch(() => fail("floor: Enter on a focused row did not open its call"));
      await sup.goto(`${url}/#/floor`);
      await sup.locator(`[data-testid=floor-row][data-call-id="${c1}"]`).waitFor({ timeout: 15000 });
    });

    // ---------------------------------------------------------------- 2. call
    let transcriptWords = [];
    await step("call", async () => {
      await sup.locator(`[data-testid=floor-row][data-call-id="${c1}"] td.c-dur`).click();
      await sup.waitForURL(new RegExp(`#/call/${escapeRe(encodeURIComponent(c1))}$`), { timeout: 10000 }).catch(() => fail("call: clicking the floor row did not open #/call/<id>"));
      await sup.getByTestId("call-gauges").waitFor({ timeout: 10000 });
      // a prompt and some transcript, waiting up to the end of the call
      const deadline = Date.now() + 240000;
      for (;;) {
        const prompts = await sup.getByTestId("call-prompt").count();
        const text = (await sup.getByTestId("call-transcript").innerText()).trim();
        if (prompts > 0 && text.length > 0) break;
        const ended = await sup.getByTestId("call-ended").count();
        if (ended > 0 || (await sup.getByTestId("not-live").count()) > 0) {
          fail(`call: the call ended with ${prompts} prompt card(s) and ${text.length ? "some" : "no"} transcript text`);
        }
        if (Date.now() > deadline) fail("call: no prompt and transcript within 240 s");
        await sup.waitForTimeout(500);
      }
      transcriptWords = (await sup.getByTestId("call-transcript").innerText()).split(/\s+/);
      await shot(sup, "call.png");
    });

    // ---------------------------------------------------------------- 3. agent
    await step("agent", async () => {
      const ag = await newPage("agent");
      await signIn(ag, tokens.agent, `#/call/${encodeURIComponent(c2)}`);
      await ag
        .getByTestId("denied")
        .waitFor({ timeout: 15000 })
        .catch(() => fail(`agent: opening the other agent's call ${c2} did not show "denied"`));
      if ((await ag.getByTestId("nav-floor").count()) > 0) fail("agent: the floor navigation is shown to an agent");
      const who = await ag.evaluate(() => window.__cs.role);
      if (who !== "agent") fail(`agent: WhoAmI role is ${who}, expected agent`);
      // The agent's landing lists its own live call, and not the other agent's.
      await ag.goto(`${url}/#/call`);
      const own = ag.locator(`[data-testid=own-live] [data-call-id="${c1}"]`);
      const ownSeen = await own.waitFor({ timeout: 15000 }).then(() => true, () => false);
      if (!ownSeen) results.notes.push("agent: call 1 was not live any more on the agent's landing page");
      if ((await ag.locator(`[data-testid=own-live] [data-call-id="${c2}"]`).count()) > 0)
        fail(`agent: the other agent's live call ${c2} is listed on the agent's landing page`);
      await shot(ag, "agent-landing.png");
      await ag.goto(`${url}/#/call/${encodeURIComponent(c1)}`);
      const seen = await Promise.race([
        ag.getByTestId("call-gauges").waitFor({ timeout: 15000 }).then(() => "live"),
        ag.getByTestId("not-live").waitFor({ timeout: 15000 }).then(() => "ended"),
        ag.getByTestId("denied").waitFor({ timeout: 15000 }).then(() => "denied"),
      ]).catch(() => "nothing");
      if (seen === "denied") fail(`agent: agent ${agentId} was denied its own call ${c1}`);
      if (seen === "nothing") fail(`agent: call ${c1} showed neither the live view nor "not live"`);
      if (seen === "live") {
        await waitFor(async () => (await ag.getByTestId("call-ended").count()) > 0 || (await ag.locator("[data-testid=call-gauges] .g-val").first().innerText()) !== "—", 10000, "agent: the live call view shows no figures");
      } else {
        results.notes.push("agent: call 1 had already ended; checked its stored report instead");
        await ag.goto(`${url}/#/review/${encodeURIComponent(c1)}`);
        await ag
          .getByTestId("report-scorecard")
          .waitFor({ timeout: 30000 })
          .catch(() => fail(`agent: the report of its own call ${c1} did not open`));
      }
      await shot(ag, "agent.png");
      await ag.context().close();
      pages.splice(pages.findIndex((p) => p.page === ag), 1);
    });

    // ---------------------------------------------------------------- 4. review (QA)
    await step("review", async () => {
      const qa = await newPage("qa");
      await signIn(qa, tokens.qa, "#/review");
      // both calls stored
      const deadline = Date.now() + 240000;
      for (;;) {
        await qa.getByTestId("review-submit").click();
        await qa.waitForTimeout(1500);
        const n1 = await qa.locator(`[data-testid=review-row][data-call-id="${c1}"]`).count();
        const n2 = await qa.locator(`[data-testid=review-row][data-call-id="${c2}"]`).count();
        if (n1 && n2) break;
        if (Date.now() > deadline) fail(`review: the calls were not both stored within 240 s (${c1}: ${n1 ? "yes" : "no"}, ${c2}: ${n2 ? "yes" : "no"})`);
        await qa.waitForTimeout(3500);
      }
      // a phrase from call 1's stored transcript
      await qa.goto(`${url}/#/review/${encodeURIComponent(c1)}`);
      await qa.getByTestId("report-scorecard").waitFor({ timeout: 20000 });
      const segs = await qa.locator(".report .transcript .utt-text").allInnerTexts();
      const phrase = pickPhrase(segs) || pickPhrase([transcriptWords.join(" ")]);
      if (!phrase) fail("review: no two consecutive plain words in call 1's transcript");
      log(`review: searching for the phrase "${phrase}"`);
      await qa.goto(`${url}/#/review`);
      await qa.getByTestId("review-phrase").fill(phrase);
      await qa.getByTestId("review-like").fill("");
      await qa.getByTestId("review-submit").click();
      await qa
        .locator(`[data-testid=review-results] [data-testid=review-row][data-call-id="${c1}"]`)
        .waitFor({ timeout: 20000 })
        .catch(() => fail(`review: searching "${phrase}" did not find ${c1}`));
      await shot(qa, "review.png");
      await qa.locator(`[data-testid=review-row][data-call-id="${c1}"] td.c-date`).click();
      await qa.getByTestId("report-scorecard").waitFor({ timeout: 20000 });
      const score = (await qa.getByTestId("report-score").innerText()).trim();
      if (!/^\d+(\.\d+)?$/.test(score)) fail(`report: the scorecard shows no score (${JSON.stringify(score.slice(0, 20))})`);
      await qa.getByTestId("report-sentiment").locator("canvas").waitFor({ timeout: 5000 });
      await shot(qa, "report.png");
      // "Calls like" a sentence (by meaning, the server's sentence model):
      // segments come back nearest first, with a similarity.
      await qa.goto(`${url}/#/review`);
      await qa.getByTestId("review-phrase").fill("");
      await qa.getByTestId("review-like").fill("the customer is unhappy that nobody called back");
      await qa.getByTestId("review-submit").click();
      await qa
        .locator("[data-testid=review-results] [data-testid=review-row]")
        .first()
        .waitFor({ timeout: 20000 })
        .catch(() => fail("review: a search by meaning found no segment"));
      await shot(qa, "review-like.png");
      await qa.getByTestId("review-like").fill("");
      // trends
      await qa.goto(`${url}/#/review`);
      const trends = qa.getByTestId("trends");
      await waitFor(async () => (await trends.locator("canvas").count()) > 0, 20000, "trends: no chart was drawn");
      await trends.scrollIntoViewIfNeeded();
      const drawn = await trends.locator("canvas").first().evaluate((c) => c.width > 0 && c.height > 0);
      if (!drawn) fail("trends: the chart canvas is empty");
      await qa.waitForTimeout(300);
      await shot(qa, "trends.png");
    });

    // ---------------------------------------------------------------- 5. compliance
    await step("compliance", async () => {
      const co = await newPage("compliance");
      await signIn(co, tokens.compliance, `#/compliance/${encodeURIComponent(c2)}`);
      const verdict = co.getByTestId("compliance-verified");
      await waitFor(async () => /verified|BROKEN/.test(await verdict.innerText()), 30000, "compliance: no verification result shown");
      const v = await verdict.innerText();
      if (!/verified/i.test(v) || /BROKEN/.test(v)) fail(`compliance: call ${c2} does not verify before the change: ${v.slice(0, 200)}`);
      const audio = co.getByTestId("compliance-audio");
      await waitFor(async () => audio.evaluate((a) => !!a.src && a.readyState >= 1), 30000, "compliance: the recording did not load into the player");
      await audio.evaluate((a) => a.play());
      await waitFor(async () => audio.evaluate((a) => a.currentTime > 0), 15000, "compliance: the audio does not play (currentTime stays 0)");
      await audio.evaluate((a) => a.pause());
      if ((await co.getByTestId("compliance-spans").count()) === 0) fail("compliance: no redaction span table");
      await co.getByTestId("compliance-waveform").waitFor({ timeout: 5000 });
      await shot(co, "compliance.png");
      // export
      const [download] = await Promise.all([co.waitForEvent("download", { timeout: 60000 }), co.getByTestId("compliance-export").click()]);
      const file = await download.path();
      const head = fs.readFileSync(file).subarray(0, 2).toString("latin1");
      if (head !== "PK") fail("compliance: the export is not a zip archive (does not start with PK)");
      if (download.suggestedFilename() !== `${c2}-redacted.zip`) results.notes.push(`export file name: ${download.suggestedFilename()}`);
      // change one byte in the middle of the stored recording, keep the size
      if (!fs.existsSync(tamper)) fail(`compliance: CS_TAMPER ${tamper} does not exist`);
      const buf = fs.readFileSync(tamper);
      const mid = Math.floor(buf.length / 2);
      buf[mid] ^= 0x5a;
      fs.writeFileSync(tamper, buf);
      await co.reload();
      await waitFor(async () => /BROKEN/.test(await co.getByTestId("compliance-verified").innerText()), 30000, "compliance: after one byte of the recording changed the page does not say BROKEN");
      await shot(co, "compliance-broken.png");
    });
  } finally {
    results.totalMs = Date.now() - T0;
    fs.writeFileSync(path.join(artefacts, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    for (const c of contexts) await c.close().catch(() => {});
    await browser.close().catch(() => {});
  }
}

// ------------------------------------------------------------ helpers

async function waitFor(pred, ms, msg) {
  const end = Date.now() + ms;
  for (;;) {
    let ok = false;
    try {
      ok = await pred();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() > end) fail(msg);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Two consecutive plain words (letters only, no digits or punctuation). */
function pickPhrase(texts) {
  for (const t of texts) {
    const w = t.split(/\s+/);
    for (let i = 0; i + 1 < w.length; i++) {
      if (/^[A-Za-z]{3,}$/.test(w[i]) && /^[A-Za-z]{3,}$/.test(w[i + 1])) return `${w[i]} ${w[i + 1]}`;
    }
  }
  return null;
}

// Runs in the page before its scripts: keeps a copy of every fetched body
// (gRPC-Web is binary framing, but protobuf strings are UTF-8, so digits show
// up as ASCII) in window.__csCaptured as a latin1 string.
function captureFetch() {
  window.__csCaptured = "";
  const orig = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const res = await orig(...args);
    if (!res.body) return res;
    const [mine, copy] = res.body.tee();
    (async () => {
      const reader = copy.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let s = "";
        for (let i = 0; i < value.length; i += 8192) s += String.fromCharCode.apply(null, value.subarray(i, i + 8192));
        window.__csCaptured += s;
      }
    })().catch(() => {});
    return new Response(mine, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

// Runs in the page: looks for the card numbers and for long digit runs in the
// DOM and in the bytes captured since `from`. Returns places, never digits.
function scanInPage({ cards, from }) {
  const captured = window.__csCaptured || "";
  const texts = [
    ["DOM html", document.documentElement.outerHTML],
    ["DOM text", document.body ? document.body.innerText : ""],
    ["network bytes", captured.slice(from)],
  ];
  const problems = [];
  for (const [where, text] of texts) {
    const base = where === "network bytes" ? from : 0;
    cards.forEach((card, i) => {
      const at = text.indexOf(card);
      if (at >= 0) problems.push({ kind: `card number #${i + 1}`, where, pos: base + at });
      const squeezed = text.replace(/(\d)[ -](?=\d)/g, "$1");
      const at2 = squeezed.indexOf(card);
      if (at < 0 && at2 >= 0) problems.push({ kind: `card number #${i + 1} (with separators)`, where, pos: base + at2 });
    });
    const re = /\d{13,}/g;
    let m;
    while ((m = re.exec(text))) {
      const s = m.index;
      const e = s + m[0].length;
      if (s > 0 && text[s - 1] === ".") continue; // a decimal fraction (37.690000000000005)
      let hs = s;
      let he = e;
      while (hs > 0 && /[0-9a-fA-F]/.test(text[hs - 1])) hs--;
      while (he < text.length && /[0-9a-fA-F]/.test(text[he])) he++;
      if (he - hs >= 32) continue; // part of a hex digest
      problems.push({ kind: `run of ${m[0].length} digits`, where, pos: base + s });
    }
  }
  return { problems: problems.slice(0, 10), capturedLength: captured.length };
}

main().then(
  () => {
    log(`passed: ${JSON.stringify({ firstPaintMs: results.firstPaintMs, p50: results.floorLatencyMsP50, p95: results.floorLatencyMsP95, updates: results.floorUpdates })}`);
    if (results.pageErrors.length) log(`page errors: ${results.pageErrors.join(" | ")}`);
    process.exit(0);
  },
  (e) => {
    const msg = e instanceof Failure ? e.message : `unexpected error: ${e && e.stack ? e.stack : e}`;
    console.error(`console e2e FAILED: ${msg}`);
    try {
      results.failure = msg;
      fs.writeFileSync(path.join(artefacts, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    } catch {
      // nothing more to do
    }
    process.exit(1);
  },
);
