// Call view: one live call from WatchCall (agents: their own calls; supervisor, admin).
// #/call without an id is the landing page: open a live call by id, and the
// caller's stored calls.
import { api, stream, unary } from "../api.js";
import { h, fill, setText, mmss, num, speakerName, utc, linkRow } from "../dom.js";
import { guard, section, emptyBox, redactionKind, table } from "./common.js";
import { Chart, COLORS } from "../charts.js";
import { agentOfCall } from "../known.js";

// SignalEvent.Kind
const SPEAKING_STARTED = 1;
const SPEAKING_STOPPED = 2;
const INTERRUPTION = 3;
const SILENCE_STARTED = 4;
const SILENCE_ENDED = 5;
const PACE = 6;

const LANES = ["Agent", "Customer", "Overlap", "Silence", "Redaction"];
const LANE_COLORS = [COLORS.agent, COLORS.customer, COLORS.overlap, COLORS.silence, COLORS.redaction];
const MAX_CARDS = 3;

export function render(ctx) {
  if (!ctx.id) return landing(ctx);
  return live(ctx);
}

// ------------------------------------------------------------ landing

function landing(ctx) {
  const { root, scope, who, allowed } = ctx;
  const input = h("input", { id: "open-call-id", type: "text", required: true, pattern: "[A-Za-z0-9._\\-]{1,128}", autocomplete: "off" });
  const form = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "open-call-id" }, "Live call id"),
    input,
    h("button", { type: "submit", class: "primary" }, "Open"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/call/${encodeURIComponent(id)}`;
  });
  const list = h("div", { class: "landing-list" }, h("p", { class: "muted" }, "Loading…"));
  // An agent's floor is its own live calls (the server narrows it).
  const liveList = h("div", { class: "landing-list", "data-testid": "own-live" }, h("p", { class: "muted" }, "Loading…"));
  fill(
    root,
    h(
      "div",
      { class: "landing" },
      h("div", { class: "view-head" }, h("h1", null, who.role === "agent" ? `Calls of agent ${who.agentId || ""}` : "Live call")),
      section(
        "Open a live call",
        null,
        h("p", { class: "help" }, who.role === "agent" ? "Your live call's id is shown by your telephony desktop." : "Live calls are listed on the floor view; or type a call id."),
        form,
      ),
      who.role === "agent" ? section("Your live calls", null, liveList) : null,
      section("Stored calls", null, list),
    ),
  );
  if (who.role === "agent") {
    const liveCalls = new Map();
    const paintLive = () => {
      if (!liveCalls.size) {
        fill(liveList, emptyBox("No live call right now."));
        return;
      }
      const ids = [...liveCalls.keys()].sort();
      fill(
        liveList,
        h(
          "ul",
          { class: "live-calls" },
          ids.map((id) =>
            h("li", { "data-call-id": id }, h("a", { href: `#/call/${encodeURIComponent(id)}` }, id), ` · ${mmss(liveCalls.get(id))}`),
          ),
        ),
      );
    };
    paintLive();
    guard(liveList, () =>
      stream(
        scope,
        (signal) => api.watchFloor({}, { signal }),
        (u) => {
          if (!u.callId) return;
          if (u.kind === 3) liveCalls.delete(u.callId);
          else liveCalls.set(u.callId, u.kpi ? u.kpi.durationS : liveCalls.get(u.callId) || 0);
          paintLive();
        },
        () => liveCalls.clear(),
      ),
    );
  }
  guard(list, async () => {
    const res = await unary(scope, (signal) => api.listCalls({ limit: 50 }, { signal }));
    if (!res.calls.length) {
      fill(list, emptyBox("No stored calls yet."));
      return;
    }
    const canReview = allowed("review");
    const cols = [
      { label: "Started (UTC)", cls: "c-date" },
      { label: "Call", cls: "c-id" },
      { label: "Duration", cls: "c-num" },
      { label: "Category" },
      { label: "Score", cls: "c-num" },
      { label: "Status" },
    ];
    const rows = res.calls.map((c) => {
      const tr = h(
        "tr",
        { "data-call-id": c.callId },
        h("td", { class: "c-date" }, c.startedAt || utc(c.storedAt)),
        h("td", { class: "c-id" }, canReview ? h("a", { href: `#/review/${encodeURIComponent(c.callId)}` }, c.callId) : c.callId),
        h("td", { class: "c-num" }, mmss(c.durationS)),
        h("td", null, c.category || "—"),
        h("td", { class: "c-num" }, c.score === undefined ? "—" : num(c.score, 1)),
        h("td", null, c.status),
      );
      if (canReview) linkRow(tr, `#/review/${encodeURIComponent(c.callId)}`);
      return tr;
    });
    fill(list, table(cols, rows));
  });
}

// ------------------------------------------------------------ live call

function live(ctx) {
  const { root, scope, id, who, allowed } = ctx;
  const st = {
    agentId: who.role === "agent" ? who.agentId : agentOfCall.get(id) || "",
    duration: 0,
    ended: null,
    utter: new Map(), // "speaker:utterance" → element
    prompts: [], // {id, t, p, dismissed}
    open: { 1: null, 2: null }, // speaking since
    silenceSince: null,
    spans: LANES.map(() => []),
    timelineDirty: true,
    got: false,
  };

  // ---- header
  const hAgent = h("span", { class: "hv" }, st.agentId || "—");
  const hDur = h("span", { class: "hv tnum" }, "0:00");
  const hStatus = h("span", { class: "status status-live" }, "connecting");
  const endedSlot = h("div", { class: "ended-slot" });
  const head = h(
    "div",
    { class: "view-head call-head" },
    h("h1", null, "Call ", h("span", { class: "mono" }, id)),
    endedSlot,
    h("dl", { class: "facts" }, h("dt", null, "Agent"), h("dd", null, hAgent), h("dt", null, "Duration"), h("dd", null, hDur), h("dt", null, "Status"), h("dd", null, hStatus)),
  );

  // ---- prompts
  const promptsEl = h("div", { class: "prompts", "aria-live": "polite", "aria-label": "Prompts" }, h("p", { class: "muted prompts-none" }, "No prompts yet."));

  // ---- transcript
  const transcriptEl = h("div", { class: "transcript", "data-testid": "call-transcript", tabindex: "0", "aria-label": "Live transcript" });
  const lagEl = h("p", { class: "lag-note", "aria-live": "polite" });

  // ---- gauges
  const gauge = (label, min, max, low, high, optimum, unit) => {
    const m = h("meter", { min, max, low, high, optimum, value: 0 });
    const v = h("span", { class: "g-val" }, "—");
    return { el: h("div", { class: "gauge" }, h("span", { class: "g-label" }, label), m, v), m, v, unit };
  };
  const counter = (label) => {
    const v = h("span", { class: "g-val" }, "0 / 0");
    return { el: h("div", { class: "gauge counter" }, h("span", { class: "g-label" }, label), v), v };
  };
  const g = {
    ratio: gauge("Talk ratio (agent/customer)", 0, 4, 0.5, 2.5, 1, ""),
    pace: gauge("Agent pace (wpm)", 0, 260, 110, 190, 150, ""),
    silence: gauge("Current silence", 0, 20, 5, 10, 0, " s"),
    overtalk: gauge("Overtalk", 0, 30, 5, 15, 0, " s"),
    lag: gauge("Transcription lag", 0, 10, 2, 5, 0, " s"),
    interruptions: counter("Interruptions agent / customer"),
    backchannels: counter("Backchannels agent / customer"),
    talk: counter("Talk time agent / customer"),
  };
  const gaugesEl = h("div", { class: "gauges", "data-testid": "call-gauges" }, Object.values(g).map((x) => x.el));

  // ---- timeline
  const tlCanvas = h("canvas", { role: "img", "aria-label": "Call timeline: speech, overlaps, silences and redactions over time" });
  const timelineEl = h("div", { class: "timeline-box", "data-testid": "call-timeline" }, tlCanvas);

  fill(
    root,
    h(
      "div",
      { class: "call-view" },
      head,
      promptsEl,
      h(
        "div",
        { class: "call-grid" },
        h("section", { class: "panel transcript-panel" }, h("h2", null, "Transcript ", h("span", { class: "muted small" }, "(redacted; grey italic … = provisional)")), lagEl, transcriptEl),
        h("div", { class: "call-side" }, h("section", { class: "panel" }, h("h2", null, "Now"), gaugesEl), h("section", { class: "panel" }, h("h2", null, "Timeline"), timelineEl)),
      ),
    ),
  );

  const chart = new Chart(tlCanvas, {
    type: "bar",
    data: {
      labels: LANES,
      datasets: LANES.map((lane, i) => ({
        label: lane,
        data: [],
        backgroundColor: LANE_COLORS[i],
        grouped: false,
        barPercentage: 0.8,
        categoryPercentage: 0.9,
      })),
    },
    options: {
      indexAxis: "y",
      responsive: true,
      plugins: { legend: { display: false }, tooltip: { enabled: true } },
      scales: {
        x: { type: "linear", min: 0, max: 60, title: { display: true, text: "seconds" }, ticks: { maxTicksLimit: 12 } },
        y: { type: "category", labels: LANES },
      },
    },
  });

  function redrawTimeline() {
    if (!st.timelineDirty) return;
    st.timelineDirty = false;
    const now = st.duration;
    const spans = st.spans.map((a) => a.slice());
    for (const sp of [1, 2]) if (st.open[sp] !== null) spans[sp - 1].push([st.open[sp], Math.max(now, st.open[sp] + 0.1)]);
    if (st.silenceSince !== null) spans[3].push([st.silenceSince, Math.max(now, st.silenceSince + 0.1)]);
    chart.data.datasets.forEach((ds, i) => {
      ds.data = spans[i].map(([a, b]) => ({ x: [a, b], y: LANES[i] }));
    });
    chart.options.scales.x.max = st.ended !== null ? Math.max(10, Math.ceil(now / 10) * 10) : Math.max(60, Math.ceil(now / 30) * 30);
    chart.update("none");
  }
  const timer = setInterval(redrawTimeline, 1000);

  // ---- events
  function utteranceEl(seg) {
    const spk = speakerName(seg.speaker);
    const key = `${seg.speaker}:${seg.utterance}`;
    let el = st.utter.get(key);
    if (!el) {
      const label = h("span", { class: "utt-who" }, `${spk} · ${seg.start.toFixed(1)} s`);
      const text = h("span", { class: "utt-text" });
      el = h("div", { class: `utt ${spk}` }, label, text);
      insertSorted(el, seg.start);
      st.utter.set(key, el);
    }
    return el;
  }

  // Keeps the transcript in order of start time, following the bottom if the
  // reader is there.
  function insertSorted(el, start) {
    el.dataset.start = String(start);
    let before = null;
    for (let n = transcriptEl.lastElementChild; n; n = n.previousElementSibling) {
      if (Number(n.dataset.start) <= start) break;
      before = n;
    }
    const stick = transcriptEl.scrollHeight - transcriptEl.scrollTop - transcriptEl.clientHeight < 40;
    transcriptEl.insertBefore(el, before);
    if (stick) transcriptEl.scrollTop = transcriptEl.scrollHeight;
  }

  function onTranscript(seg) {
    const el = utteranceEl(seg);
    el.classList.toggle("partial", !seg.isFinal);
    el.classList.toggle("final", seg.isFinal);
    const text = el.querySelector(".utt-text");
    setText(text, seg.isFinal ? seg.text : `${seg.text} …`);
    el.title = seg.isFinal ? "" : "provisional: may change";
  }

  function renderPrompts() {
    const visible = st.prompts.filter((x) => !x.dismissed).slice(-MAX_CARDS).reverse();
    const hidden = st.prompts.filter((x) => !x.dismissed).length - visible.length;
    if (!visible.length) {
      fill(promptsEl, h("p", { class: "muted prompts-none" }, st.prompts.length ? "All prompts dismissed." : "No prompts yet."));
      return;
    }
    fill(
      promptsEl,
      visible.map((x) =>
        h(
          "article",
          { class: `prompt-card sev-${x.p.severity || "info"}`, "data-testid": "call-prompt", "data-kind": x.p.kind },
          h("header", null, h("span", { class: "p-sev" }, (x.p.severity || "info").toUpperCase()), h("span", { class: "p-kind" }, x.p.kind), h("span", { class: "p-t tnum" }, mmss(x.t))),
          h("p", { class: "p-msg" }, x.p.message),
          x.p.evidence ? h("p", { class: "p-ev" }, x.p.evidence) : null,
          h(
            "button",
            {
              type: "button",
              class: "dismiss",
              "aria-label": `Dismiss prompt: ${x.p.message}`,
              onclick: () => {
                x.dismissed = true;
                renderPrompts();
                promptsEl.focus?.();
              },
            },
            "Dismiss",
          ),
        ),
      ),
      hidden > 0 ? h("p", { class: "muted small more" }, `+${hidden} earlier`) : null,
    );
  }

  function setMeter(x, value, digits) {
    const v = Number.isFinite(value) ? value : 0;
    x.m.value = Math.min(v, Number(x.m.max));
    setText(x.v, `${num(v, digits)}${x.unit}`);
  }

  function onKpi(k) {
    st.duration = Math.max(st.duration, k.durationS);
    setText(hDur, mmss(k.durationS));
    setMeter(g.ratio, k.talkRatio, 2);
    setMeter(g.pace, k.agentWpm, 0);
    setMeter(g.silence, k.silenceS, 1);
    setMeter(g.overtalk, k.overtalkS, 1);
    setMeter(g.lag, k.transcriptionLagS, 1);
    setText(g.interruptions.v, `${k.interruptionsByAgent} / ${k.interruptionsByCustomer}`);
    setText(g.backchannels.v, `${k.backchannelsByAgent} / ${k.backchannelsByCustomer}`);
    setText(g.talk.v, `${mmss(k.agentTalkS)} / ${mmss(k.customerTalkS)}`);
    st.timelineDirty = true;
  }

  function onSignal(t, s) {
    switch (s.kind) {
      case SPEAKING_STARTED:
        if (s.speaker === 1 || s.speaker === 2) st.open[s.speaker] = t;
        break;
      case SPEAKING_STOPPED:
        if ((s.speaker === 1 || s.speaker === 2) && st.open[s.speaker] !== null) {
          st.spans[s.speaker - 1].push([st.open[s.speaker], t]);
          st.open[s.speaker] = null;
        }
        break;
      case INTERRUPTION:
        st.spans[2].push([t, t + Math.max(s.durationS, 0.2)]);
        break;
      case SILENCE_STARTED:
        st.silenceSince = t;
        break;
      case SILENCE_ENDED:
        st.spans[3].push([t - s.durationS, t]);
        st.silenceSince = null;
        break;
      case PACE:
        break;
      default:
        break;
    }
    st.duration = Math.max(st.duration, t);
    st.timelineDirty = true;
  }

  function showEnded(status, note) {
    st.ended = status;
    setText(hStatus, "ended");
    hStatus.className = "status status-ended";
    for (const sp of [1, 2]) {
      if (st.open[sp] !== null) {
        st.spans[sp - 1].push([st.open[sp], st.duration]);
        st.open[sp] = null;
      }
    }
    st.timelineDirty = true;
    redrawTimeline();
    fill(
      endedSlot,
      h(
        "div",
        { class: "notice ended", role: "status", "data-testid": "call-ended" },
        `Call ended — status ${status}. `,
        note || "",
        allowed("review") ? h("a", { href: `#/review/${encodeURIComponent(id)}` }, "Open the review of this call") : null,
      ),
    );
  }

  function onEvent(ev) {
    if (!st.got) {
      st.got = true;
      setText(hStatus, "live");
    }
    const e = ev.event;
    switch (e.case) {
      case "accepted":
        st.agentId = e.value.agentId || st.agentId;
        setText(hAgent, st.agentId || "—");
        break;
      case "transcript":
        onTranscript(e.value);
        break;
      case "signal":
        onSignal(ev.t, e.value);
        break;
      case "prompt":
        st.prompts.push({ t: ev.t, p: e.value, dismissed: false });
        renderPrompts();
        break;
      case "kpi":
        onKpi(e.value);
        break;
      case "redaction": {
        const r = e.value;
        st.spans[4].push([r.start, r.end]);
        st.timelineDirty = true;
        const note = h(
          "div",
          { class: "utt note" },
          h("span", { class: "utt-who" }, `${speakerName(r.speaker)} · ${r.start.toFixed(1)}–${r.end.toFixed(1)} s`),
          h("span", { class: "utt-text" }, `${redactionKind(r.kind)} redacted${r.keys ? ` (${r.keys} keys)` : ""}`),
        );
        insertSorted(note, r.start);
        break;
      }
      case "lagging": {
        const l = e.value;
        setText(lagEl, `Transcription is ${num(l.lagS, 0)} s behind (${l.queuedUtterances} utterances queued)${l.deferred ? "; the rest of this call's transcript comes after it ends" : ""}.`);
        break;
      }
      case "ended":
        showEnded(e.value.status);
        break;
      default:
        break;
    }
  }

  const notLive = () =>
    fill(
      root,
      h(
        "div",
        { class: "notice not-live", role: "status", "data-testid": "not-live" },
        h("strong", null, "This call is not live. "),
        `No live call has the id ${id} (it may have ended). `,
        allowed("review") ? h("a", { href: `#/review/${encodeURIComponent(id)}` }, "Open its review") : null,
      ),
    );

  guard(
    root,
    async () => {
      await stream(scope, (signal) => api.watchCall({ callId: id }, { signal }), onEvent);
      if (st.ended === null) showEnded("unknown", "The stream closed before the end was announced. ");
    },
    () => {
      // NOT_FOUND: never live, or it ended while we were reconnecting
      if (st.got) showEnded("unknown", "The connection was lost before the end. ");
      else notLive();
    },
  );

  return () => {
    clearInterval(timer);
    chart.destroy();
  };
}
