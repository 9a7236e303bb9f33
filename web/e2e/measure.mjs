// Measures the console with open floor views: how long the page takes to
// show the floor, and how late floor updates reach the screen.
//
//   CS_URL=https://127.0.0.1:50051 CS_TOKEN_SUPERVISOR=cs_… \
//   CS_VIEWS=10 CS_SECONDS=60 node e2e/measure.mjs > floor.json
//
// Opens CS_VIEWS pages (one browser, a context each, as separate tabs of
// separate supervisors would be), signs each in, keeps them on the floor
// for CS_SECONDS, then prints JSON: page load (navigation start to the
// first floor table with calls, from the page's own hook) and update
// latency (server send time of each FloorUpdate to the frame after the DOM
// showed it), p50 / p95 / max over every view.
import { chromium } from "playwright-core";

const url = process.env.CS_URL;
const token = process.env.CS_TOKEN_SUPERVISOR;
const views = Number(process.env.CS_VIEWS || 10);
const seconds = Number(process.env.CS_SECONDS || 60);
if (!url || !token) {
  console.error("set CS_URL and CS_TOKEN_SUPERVISOR");
  process.exit(2);
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--mute-audio", "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
});
try {
  const pages = [];
  for (let i = 0; i < views; i++) {
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1366, height: 768 },
    });
    const page = await ctx.newPage();
    await page.goto(`${url}/#/floor`);
    await page.getByTestId("signin-token").fill(token);
    await page.getByTestId("signin-submit").click();
    await page.getByTestId("floor-table").waitFor({ timeout: 30_000 });
    pages.push(page);
  }
  // The load of a fresh page, signed in already in this tab's session.
  const loads = [];
  for (const page of pages) {
    await page.reload();
    await page.getByTestId("floor-row").first().waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => window.__cs && window.__cs.firstPaintMs != null,
      null, { timeout: 30_000 });
    loads.push(await page.evaluate(() => window.__cs.firstPaintMs));
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const lat = [];
  for (const page of pages) {
    lat.push(...(await page.evaluate(() => window.__cs.floorLatencyMs)));
  }
  console.log(JSON.stringify({
    views,
    seconds,
    page_load_ms: { p50: pct(loads, 50), max: Math.max(...loads) },
    floor_updates: lat.length,
    update_latency_ms: { p50: pct(lat, 50), p95: pct(lat, 95), max: Math.max(...lat) },
  }, null, 1));
} finally {
  await browser.close();
}
