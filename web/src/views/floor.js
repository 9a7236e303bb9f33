// Floor view (supervisor, admin): every live call from WatchFloor, one row per call.
import { api, stream } from "../api.js";
import { h, fill, setText, mmss, num, speakerName, linkRow, sleep } from "../dom.js";
import { guard, section } from "./common.js";
import { Chart, COLORS } from "../charts.js";
import { agentOfCall } from "../known.js";

// FloorUpdate.Kind
const STARTED = 1;
const UPDATE = 2;
const ENDED = 3;
const STATS = 4;
// The node holding the call was lost: the row stays, marked, for a minute.
const INTERRUPTED = 5;
const INTERRUPTED_KEEP_MS = 60_000;

const DEAD_AIR_S = 10;
const LAG_S = 5;
const RISK_PROMPTS = new Set(["escalation_request", "cancellation_risk"]);

const COLUMNS = [
  { key: "call", label: "Call / agent", cls: "c-call" },
  { key: "duration", label: "Duration", cls: "c-num c-dur" },
  { key: "speaking", label: "Speaking", cls: "c-speaking" },
  { key: "ratio", label: "Talk ratio", cls: "c-num" },
  { key: "pace", label: "Pace wpm", cls: "c-num" },
  { key: "interruptions", label: "Interr. A/C", cls: "c-num" },
  { key: "silence", label: "Silence", cls: "c-num" },
  { key: "sentiment", label: "Sentiment", cls: "c-sent" },
  { key: "prompt", label: "Latest prompt", cls: "c-prompt" },
  { key: "lag", label: "Lag", cls: "c-num" },
  { key: "flags", label: "Flags", cls: "c-flags" },
];

function flagsOf(u) {
  const k = u.kpi;
  const out = [];
  if (u.interrupted) out.push(["interrupted", "INTERRUPTED"]);
  const kinds = new Set(u.latestPrompts.map((p) => p.kind));
  if (kinds.has("escalation_request")) out.push(["escalation", "ESCALATION"]);
  if (kinds.has("cancellation_risk")) out.push(["cancel", "CANCEL"]);
  if (k && k.silenceS >= DEAD_AIR_S) out.push(["deadair", "DEAD AIR"]);
  if (k && k.transcriptionLagS >= LAG_S) out.push(["lag", "LAG"]);
  return out;
}

const SORTERS = {
  call: (r) => r.callId,
  duration: (r) => r.u.kpi?.durationS ?? 0,
  speaking: (r) => r.u.kpi?.currentSpeaker ?? 0,
  ratio: (r) => r.u.kpi?.talkRatio ?? 0,
  pace: (r) => r.u.kpi?.agentWpm ?? 0,
  interruptions: (r) => (r.u.kpi?.interruptionsByAgent ?? 0) + (r.u.kpi?.interruptionsByCustomer ?? 0),
  silence: (r) => r.u.kpi?.silenceS ?? 0,
  sentiment: (r) => r.u.sentiment ?? 0,
  prompt: (r) => r.u.latestPrompts.at(-1)?.kind ?? "",
  lag: (r) => r.u.kpi?.transcriptionLagS ?? 0,
  flags: (r) => r.flags.length,
};

export function render(ctx) {
  const { root, scope } = ctx;
  const rows = new Map(); // call id → row state
  let sort = { key: "flagged", dir: -1 };
  let orderDirty = true;
  let firstPaintDone = false;

  // ---- KPI strip
  const stat = (label) => {
    const v = h("span", { class: "kpi-value" }, "—");
    return [h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, label), v), v];
  };
  const [sLiveBox, sLive] = stat("Calls live");
  const [sAvgBox, sAvg] = stat("Avg live duration");
  const [sAhtBox, sAht] = stat("Avg handle time (1 h)");
  const [sEndedBox, sEnded] = stat("Ended (1 h)");
  const sPrompts = h("span", { class: "kpi-value kpi-prompts" }, "none");
  const statsEl = h(
    "div",
    { class: "kpi-strip", "data-testid": "floor-stats", "aria-label": "Floor figures" },
    sLiveBox,
    sAvgBox,
    sAhtBox,
    sEndedBox,
    h("div", { class: "kpi kpi-wide" }, h("span", { class: "kpi-label" }, "Prompts (15 min)"), sPrompts),
  );

  // ---- table
  const sortButtons = new Map();
  const headRow = h(
    "tr",
    null,
    COLUMNS.map((c) => {
      const b = h("button", { type: "button", class: "sort", onclick: () => setSort(c.key) }, c.label);
      sortButtons.set(c.key, b);
      return h("th", { scope: "col", class: c.cls, "aria-sort": "none" }, b);
    }),
  );
  const tbody = h("tbody");
  const colgroup = h(
    "colgroup",
    null,
    COLUMNS.map((c) => h("col", { class: `col-${c.key}` })),
  );
  const tableEl = h("table", { class: "grid floor", "data-testid": "floor-table" }, colgroup, h("thead", null, headRow), tbody);
  const emptyEl = h("div", { class: "notice empty", "data-testid": "floor-empty" }, "No live calls.");
  const flaggedBtn = h("button", { type: "button", class: "sort-flagged", "aria-pressed": "true", onclick: () => setSort("flagged") }, "Flagged first");
  const body = h("div", { class: "floor-body" }, emptyEl);

  fill(
    root,
    h(
      "div",
      { class: "floor-view" },
      h("div", { class: "view-head" }, h("h1", null, "Floor"), h("div", { class: "head-tools" }, flaggedBtn), statsEl),
      body,
    ),
  );

  function setSort(key) {
    if (key === "flagged") sort = { key, dir: -1 };
    else if (sort.key === key) sort = { key, dir: -sort.dir };
    else sort = { key, dir: key === "call" || key === "prompt" ? 1 : -1 };
    for (const [k, b] of sortButtons) {
      const th = b.parentElement;
      th.setAttribute("aria-sort", k === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    }
    flaggedBtn.setAttribute("aria-pressed", String(sort.key === "flagged"));
    orderDirty = true;
    reorder();
  }

  function compare(a, b) {
    if (sort.key === "flagged") {
      const d = b.flags.length - a.flags.length;
      if (d) return d;
      return (b.u.kpi?.durationS ?? 0) - (a.u.kpi?.durationS ?? 0) || a.callId.localeCompare(b.callId);
    }
    const f = SORTERS[sort.key];
    const va = f(a);
    const vb = f(b);
    const c = typeof va === "string" ? va.localeCompare(vb) : va - vb;
    return c * sort.dir || a.callId.localeCompare(b.callId);
  }

  function reorder() {
    if (!orderDirty) return;
    orderDirty = false;
    const sorted = [...rows.values()].sort(compare);
    const current = [...tbody.children];
    if (sorted.length === current.length && sorted.every((r, i) => r.tr === current[i])) return;
    const focused = document.activeElement;
    for (const r of sorted) tbody.appendChild(r.tr);
    if (focused && tbody.contains(focused)) focused.focus();
  }

  function showTableOrEmpty() {
    if (rows.size === 0) {
      if (body.firstChild !== emptyEl) fill(body, emptyEl);
    } else if (body.firstChild !== tableEl) {
      fill(body, tableEl);
    }
  }

  function newRow(u) {
    const cells = {};
    const tr = h("tr", { "data-testid": "floor-row", "data-call-id": u.callId, class: "floor-row" });
    for (const c of COLUMNS) {
      cells[c.key] = h("td", { class: c.cls });
      tr.appendChild(cells[c.key]);
    }
    const link = h("a", { href: `#/call/${encodeURIComponent(u.callId)}`, class: "call-link" }, u.callId);
    const agent = h("span", { class: "agent" });
    fill(cells.call, link, agent);
    const sentVal = h("span", { class: "sent-val" });
    const canvas = h("canvas", { class: "spark", width: "72", height: "22", "aria-hidden": "true" });
    const sparkBox = h("div", { class: "spark-box" }, canvas);
    fill(cells.sentiment, sentVal, sparkBox);
    const promptKind = h("span", { class: "prompt-kind" });
    const promptMsg = h("span", { class: "prompt-msg" });
    fill(cells.prompt, promptKind, promptMsg);
    linkRow(tr, `#/call/${encodeURIComponent(u.callId)}`);
    const r = { callId: u.callId, tr, cells, agent, sentVal, canvas, spark: null, sparkKey: "", promptKind, promptMsg, u, flags: [], flagKey: "" };
    return r;
  }

  function sparkline(r) {
    const turns = r.u.sentimentTurns;
    const key = turns.join(",");
    if (key === r.sparkKey) return;
    r.sparkKey = key;
    const data = turns.map((v, i) => ({ x: i, y: v }));
    if (!r.spark) {
      r.spark = new Chart(r.canvas, {
        type: "line",
        data: { datasets: [{ data, borderColor: COLORS.customer, borderWidth: 1.5, pointRadius: 1.5, pointBackgroundColor: COLORS.customer, tension: 0.3 }] },
        options: {
          responsive: false,
          events: [],
          plugins: { legend: { display: false }, tooltip: { enabled: false } },
          scales: { x: { type: "linear", display: false, min: 0, max: 9 }, y: { display: false, min: -1.15, max: 1.15 } },
        },
      });
    } else {
      r.spark.data.datasets[0].data = data;
    }
    // spread the turns over the whole sparkline
    r.spark.options.scales.x.max = Math.max(1, data.length - 1);
    r.spark.update("none");
  }

  function paint(r) {
    const u = r.u;
    const k = u.kpi;
    setText(r.agent, u.nodeId ? `${u.agentId || "—"} · ${u.nodeId}` : u.agentId || "—");
    setText(r.cells.duration, mmss(k?.durationS));
    const spk = speakerName(k?.currentSpeaker);
    setText(r.cells.speaking, spk === "—" ? "nobody" : spk);
    r.cells.speaking.dataset.speaker = spk;
    setText(r.cells.ratio, num(k?.talkRatio, 2));
    setText(r.cells.pace, k?.agentWpm ? num(k.agentWpm, 0) : "—");
    setText(r.cells.interruptions, `${k?.interruptionsByAgent ?? 0} / ${k?.interruptionsByCustomer ?? 0}`);
    setText(r.cells.silence, k && k.silenceS > 0 ? `${num(k.silenceS, 0)} s` : "—");
    const s = u.sentiment ?? 0;
    setText(r.sentVal, `${s >= 0 ? "+" : "−"}${Math.abs(s).toFixed(2)}`);
    r.sentVal.className = `sent-val ${s > 0.15 ? "pos" : s < -0.15 ? "neg" : "neu"}`;
    sparkline(r);
    const p = u.latestPrompts.at(-1);
    setText(r.promptKind, p ? p.kind : "");
    setText(r.promptMsg, p ? p.message : "—");
    r.cells.prompt.title = p ? `${p.kind}: ${p.message}${p.evidence ? ` — ${p.evidence}` : ""}` : "";
    r.promptKind.className = `prompt-kind sev-${p?.severity || "none"}`;
    setText(r.cells.lag, k && k.transcriptionLagS > 0 ? `${num(k.transcriptionLagS, 1)} s` : "0 s");
    const flags = flagsOf(u);
    const flagKey = flags.map((f) => f[0]).join(",");
    if (flagKey !== r.flagKey) {
      r.flagKey = flagKey;
      r.flags = flags;
      fill(r.cells.flags, flags.map(([cls, label]) => h("span", { class: `badge badge-${cls}` }, label)));
      r.tr.classList.toggle("flagged", flags.length > 0);
      for (const c of ["escalation", "cancel", "deadair", "lag", "interrupted"]) r.tr.classList.toggle(`flag-${c}`, flags.some((f) => f[0] === c));
      orderDirty = true;
    }
  }

  function setStats(st) {
    if (!st) return;
    setText(sLive, String(st.callsLive));
    statsEl.dataset.callsLive = String(st.callsLive);
    setText(sAvg, st.callsLive ? mmss(st.avgLiveS) : "—");
    setText(sAht, st.endedLastHour ? mmss(st.avgHandleS) : "—");
    setText(sEnded, String(st.endedLastHour));
    const kinds = Object.entries(st.prompts15m || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    fill(sPrompts, kinds.length ? kinds.map(([k, n]) => h("span", { class: "chip" }, `${k} ${n}`)) : "none");
  }

  function removeRow(id) {
    const r = rows.get(id);
    if (!r) return;
    r.spark?.destroy();
    r.tr.remove();
    rows.delete(id);
  }

  function onUpdate(u) {
    switch (u.kind) {
      case STATS:
        setStats(u.stats);
        break;
      case ENDED:
        removeRow(u.callId);
        break;
      case INTERRUPTED: {
        const r = rows.get(u.callId);
        if (!r) break;
        r.u = { ...r.u, interrupted: true };
        paint(r);
        r.tr.title = `node ${u.nodeId || "?"} stopped answering; the call is stored as interrupted`;
        setTimeout(() => {
          if (rows.get(u.callId) === r) {
            removeRow(u.callId);
            showTableOrEmpty();
          }
        }, INTERRUPTED_KEEP_MS);
        break;
      }
      case STARTED:
      case UPDATE: {
        if (!u.callId) break;
        if (u.agentId) agentOfCall.set(u.callId, u.agentId);
        let r = rows.get(u.callId);
        if (!r) {
          r = newRow(u);
          rows.set(u.callId, r);
          tbody.appendChild(r.tr);
          orderDirty = true;
        }
        // a "started" without figures must not wipe the figures we have
        if (u.kpi || !r.u.kpi) r.u = u;
        else r.u = { ...u, kpi: r.u.kpi };
        paint(r);
        break;
      }
      default:
        break;
    }
    showTableOrEmpty();
    if (u.sentUnixMs && Number(u.sentUnixMs) > 0) {
      const sent = Number(u.sentUnixMs);
      requestAnimationFrame(() => {
        window.__cs.floorLatencyMs.push(Date.now() - sent);
      });
    }
    if (!firstPaintDone && rows.size > 0) {
      firstPaintDone = true;
      requestAnimationFrame(() => {
        if (window.__cs.firstPaintMs === null) window.__cs.firstPaintMs = Math.round(performance.now());
      });
    }
  }

  // Re-sort at most once a second so rows do not jump on every message.
  const timer = setInterval(reorder, 1000);

  const restart = () => {
    // reconnecting: the server re-sends every live call
    for (const id of [...rows.keys()]) removeRow(id);
    showTableOrEmpty();
  };
  guard(body, async () => {
    for (;;) {
      await stream(scope, (signal) => api.watchFloor({}, { signal }), onUpdate, restart);
      // the server closed the stream (e.g. restarting): open it again
      await sleep(1000, scope.signal);
      if (scope.signal.aborted) return;
      restart();
    }
  });

  return () => {
    clearInterval(timer);
    for (const r of rows.values()) r.spark?.destroy();
  };
}
