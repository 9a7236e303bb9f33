// Review view (qa, supervisor, compliance, admin; agents: their own calls):
// #/review = search form, results and trends; #/review/<id> = one call's report.
import { api, unary } from "../api.js";
import { h, fill, mmss, num, pct, speakerName, utc, linkRow } from "../dom.js";
import { guard, section, emptyBox, table, redactionKind } from "./common.js";
import { Chart, COLORS } from "../charts.js";

// The last search, kept while the page is open so "back" shows it again.
let lastForm = { since: "", until: "", agentId: "", category: "", minScore: "", maxScore: "", phrase: "", like: "", promptKind: "" };

export function render(ctx) {
  return ctx.id ? report(ctx) : search(ctx);
}

function filterOf(f) {
  const req = {
    since: f.since,
    until: f.until,
    agentId: f.agentId.trim(),
    category: f.category.trim(),
    promptKind: f.promptKind.trim(),
    phrase: f.phrase.trim(),
  };
  if (f.minScore !== "") req.minScore = Number(f.minScore);
  if (f.maxScore !== "") req.maxScore = Number(f.maxScore);
  return req;
}

// ------------------------------------------------------------ search + trends

function search(ctx) {
  const { root, scope, who } = ctx;
  const charts = [];
  const field = (name, label, type, attrs) => {
    const id = `rf-${name}`;
    const input = h("input", { id, name, type, value: lastForm[name], autocomplete: "off", ...(attrs || {}) });
    return [h("div", { class: "field" }, h("label", { for: id }, label), input), input];
  };
  const [fSince, iSince] = field("since", "Since", "date");
  const [fUntil, iUntil] = field("until", "Until", "date");
  const [fAgent, iAgent] = field("agentId", "Agent id", "text", who.role === "agent" ? { disabled: true, value: who.agentId } : null);
  const [fCat, iCat] = field("category", "Category", "text", { list: "rf-categories", placeholder: "e.g. billing, none" });
  const [fMin, iMin] = field("minScore", "Min score", "number", { min: 0, max: 100, step: "any" });
  const [fMax, iMax] = field("maxScore", "Max score", "number", { min: 0, max: 100, step: "any" });
  const [fPhrase, iPhrase] = field("phrase", "Phrase (exact words)", "search", { "data-testid": "review-phrase" });
  const [fLike, iLike] = field("like", "Calls like (meaning)", "search", { "data-testid": "review-like", placeholder: "e.g. I want to cancel" });
  const [fKind, iKind] = field("promptKind", "Prompt kind", "text", { placeholder: "e.g. dead_air" });
  const inputs = { since: iSince, until: iUntil, agentId: iAgent, category: iCat, minScore: iMin, maxScore: iMax, phrase: iPhrase, like: iLike, promptKind: iKind };
  const catList = h("datalist", { id: "rf-categories" });
  const form = h(
    "form",
    { class: "review-form", "data-testid": "review-form", "aria-label": "Find calls" },
    fSince,
    fUntil,
    fAgent,
    fCat,
    fMin,
    fMax,
    fPhrase,
    fLike,
    fKind,
    catList,
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit", class: "primary", "data-testid": "review-submit" }, "Search"),
      h("button", { type: "reset", class: "secondary" }, "Clear"),
    ),
  );
  const resultsEl = h("div", { class: "results", "data-testid": "review-results", "aria-live": "polite" });
  const trendsEl = h("div", { class: "trends", "data-testid": "trends" }, h("p", { class: "muted" }, "Loading trends…"));

  fill(
    root,
    h(
      "div",
      { class: "review-view" },
      h("div", { class: "view-head" }, h("h1", null, "Review")),
      section("Find calls", null, form),
      section("Results", null, resultsEl),
      section("Trends", { id: "trends" }, trendsEl),
    ),
  );

  form.addEventListener("reset", () => {
    setTimeout(() => {
      if (who.role === "agent") iAgent.value = who.agentId;
    });
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    for (const [k, el] of Object.entries(inputs)) lastForm[k] = el.value;
    if (who.role === "agent") lastForm.agentId = "";
    run();
  });

  function run() {
    const f = lastForm;
    fill(resultsEl, h("p", { class: "muted" }, "Searching…"));
    if (f.like.trim()) {
      guard(resultsEl, async () => {
        const res = await unary(scope, (signal) => api.searchSegments({ filter: { ...filterOf(f), limit: 50 }, like: f.like.trim() }, { signal }));
        showHits(res.hits);
      });
    } else {
      guard(resultsEl, async () => {
        const res = await unary(scope, (signal) => api.listCalls({ ...filterOf(f), limit: 200 }, { signal }));
        showCalls(res.calls);
      });
    }
    loadTrends();
  }

  function showCalls(calls) {
    const any = Object.values(lastForm).some((v) => String(v).trim() !== "");
    if (!calls.length) {
      fill(resultsEl, emptyBox(any ? "No stored calls match these filters." : "No calls are stored yet.", "review-empty"));
      return;
    }
    const cols = [
      { label: "Started (UTC)", cls: "c-date" },
      { label: "Call", cls: "c-id" },
      { label: "Agent", cls: "c-agent" },
      { label: "Duration", cls: "c-num" },
      { label: "Category" },
      { label: "Score", cls: "c-num" },
      { label: "Prompts", cls: "c-num" },
      { label: "Redactions", cls: "c-num" },
      { label: "Status" },
    ];
    const rows = calls.map((c) => {
      const href = `#/review/${encodeURIComponent(c.callId)}`;
      return linkRow(
        h(
          "tr",
          { "data-testid": "review-row", "data-call-id": c.callId },
          h("td", { class: "c-date" }, c.startedAt || utc(c.storedAt)),
          h("td", { class: "c-id" }, h("a", { href }, c.callId)),
          h("td", { class: "c-agent" }, c.agentId || "—"),
          h("td", { class: "c-num" }, mmss(c.durationS)),
          h("td", null, c.category || "—"),
          h("td", { class: "c-num" }, c.score === undefined ? "—" : num(c.score, 1)),
          h("td", { class: "c-num" }, String(c.prompts)),
          h("td", { class: "c-num" }, String(c.redactions)),
          h("td", null, c.status),
        ),
        href,
      );
    });
    fill(resultsEl, h("p", { class: "muted small" }, `${calls.length} call${calls.length === 1 ? "" : "s"}, newest first.`), table(cols, rows, { class: "grid results-table" }));
  }

  function showHits(hits) {
    if (!hits.length) {
      fill(resultsEl, emptyBox("No segments found.", "review-empty"));
      return;
    }
    const cols = [
      { label: "Call", cls: "c-id" },
      { label: "Started (UTC)", cls: "c-date" },
      { label: "Speaker" },
      { label: "Time", cls: "c-num" },
      { label: "Text", cls: "c-text" },
      { label: "Similarity", cls: "c-num" },
    ];
    const rows = hits.map((x) => {
      const href = `#/review/${encodeURIComponent(x.callId)}`;
      return linkRow(
        h(
          "tr",
          { "data-testid": "review-row", "data-call-id": x.callId },
          h("td", { class: "c-id" }, h("a", { href }, x.callId)),
          h("td", { class: "c-date" }, x.startedAt || "—"),
          h("td", null, speakerName(x.speaker)),
          h("td", { class: "c-num" }, mmss(x.start)),
          h("td", { class: "c-text" }, x.text),
          h("td", { class: "c-num" }, x.similarity === undefined ? "—" : num(x.similarity, 2)),
        ),
        href,
      );
    });
    fill(resultsEl, h("p", { class: "muted small" }, `${hits.length} segment${hits.length === 1 ? "" : "s"}, nearest first.`), table(cols, rows, { class: "grid results-table" }));
  }

  function loadTrends() {
    guard(trendsEl, async () => {
      if (!ctx.who.views.includes("review") || ctx.who.role === "agent") {
        fill(trendsEl, h("p", { class: "muted" }, "Trends are for supervisors, QA and compliance."));
        return;
      }
      const f = { ...filterOf(lastForm) };
      const res = await unary(scope, (signal) => api.getTrends({ filter: f }, { signal }));
      const t = JSON.parse(res.trendsJson);
      for (const c of charts.splice(0)) c.destroy();
      showTrends(t);
    });
  }

  function showTrends(t) {
    const cats = [...new Set((t.complaints_by_week || []).map((w) => w.category))].sort();
    fill(catList, cats.map((c) => h("option", { value: c })));
    const weeks = [...new Set((t.complaints_by_week || []).map((w) => w.week))].sort();
    const weekCanvas = h("canvas", { role: "img", "aria-label": "Complaints by category per week" });
    const agentCanvas = h("canvas", { role: "img", "aria-label": "Agents' mean QA score" });
    const agents = t.agents || [];
    fill(
      trendsEl,
      h("p", { class: "muted small" }, `${t.calls} call${t.calls === 1 ? "" : "s"} covered.`),
      h(
        "div",
        { class: "trend-grid" },
        h("figure", { class: "chart-box" }, h("figcaption", null, "Complaints per week, by category"), weeks.length ? h("div", { class: "chart-area" }, weekCanvas) : emptyBox("No complaints heard.")),
        h("figure", { class: "chart-box" }, h("figcaption", null, "Agents: mean QA score and calls"), agents.length ? h("div", { class: "chart-area" }, agentCanvas) : emptyBox("No agents.")),
      ),
      h("h3", null, "Recurring complaints"),
      (t.recurring_complaints || []).length
        ? table(
            [{ label: "Category" }, { label: "Calls", cls: "c-num" }, { label: "Weeks", cls: "c-num" }, { label: "Callers", cls: "c-num" }, { label: "First", cls: "c-date" }, { label: "Last", cls: "c-date" }],
            t.recurring_complaints.map((r) => [r.category, String(r.calls), String(r.weeks), String(r.callers), utc(r.first), utc(r.last)]),
          )
        : emptyBox("No category heard in two or more calls."),
      h("h3", null, "Agent averages"),
      agents.length
        ? table(
            [
              { label: "Agent" },
              { label: "Calls", cls: "c-num" },
              { label: "Score", cls: "c-num" },
              { label: "Talk/listen", cls: "c-num" },
              { label: "Wpm", cls: "c-num" },
              { label: "Interrupts/call", cls: "c-num" },
              { label: "Dead air/call", cls: "c-num" },
              { label: "Prompts/call", cls: "c-num" },
              { label: "Apology rate", cls: "c-num" },
              { label: "Escalations", cls: "c-num" },
              { label: "Cancellations", cls: "c-num" },
            ],
            agents.map((a) => [
              a.agent_id,
              String(a.calls),
              num(a.score, 1),
              num(a.talk_listen_ratio, 2),
              num(a.wpm, 0),
              num(a.interruptions, 1),
              a.dead_air_s === null || a.dead_air_s === undefined ? "—" : `${num(a.dead_air_s, 1)} s`,
              num(a.prompts, 1),
              pct(a.apology_rate),
              String(a.escalations),
              String(a.cancellations),
            ]),
          )
        : emptyBox("No agents."),
      h("h3", null, "Repeat callers"),
      (t.repeat_callers || []).length
        ? table(
            [{ label: "Caller" }, { label: "Calls", cls: "c-num" }, { label: "First", cls: "c-date" }, { label: "Last", cls: "c-date" }, { label: "Categories" }, { label: "Call ids", cls: "c-text" }],
            t.repeat_callers.map((r) => [r.caller_id, String(r.calls), utc(r.first), utc(r.last), r.categories || "—", r.call_ids]),
          )
        : emptyBox("No caller called more than once."),
    );
    if (weeks.length) {
      charts.push(
        new Chart(weekCanvas, {
          type: "bar",
          data: {
            labels: weeks,
            datasets: cats.map((c, i) => ({
              label: c,
              backgroundColor: COLORS.palette[i % COLORS.palette.length],
              data: weeks.map((w) => (t.complaints_by_week.find((x) => x.week === w && x.category === c) || { calls: 0 }).calls),
            })),
          },
          options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "calls" } } } },
        }),
      );
    }
    if (agents.length) {
      charts.push(
        new Chart(agentCanvas, {
          type: "bar",
          data: {
            labels: agents.map((a) => a.agent_id),
            datasets: [
              { label: "Mean QA score", backgroundColor: COLORS.agent, data: agents.map((a) => a.score ?? 0), yAxisID: "y" },
              { label: "Calls", backgroundColor: COLORS.customer, data: agents.map((a) => a.calls), yAxisID: "y1" },
            ],
          },
          options: {
            responsive: true,
            scales: {
              y: { beginAtZero: true, max: 100, title: { display: true, text: "score" } },
              y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: "calls" } },
            },
          },
        }),
      );
    }
  }

  run();
  return () => {
    for (const c of charts) c.destroy();
  };
}

// ------------------------------------------------------------ one call's report

function scoreResult(s) {
  if (s === null || s === undefined) return ["n.a.", "na"];
  if (s >= 1) return ["pass", "pass"];
  if (s <= 0) return ["fail", "fail"];
  return [`partial ${num(s, 2)}`, "partial"];
}

function report(ctx) {
  const { root, scope, id, allowed } = ctx;
  let chart = null;
  const body = h("div", { class: "report" }, h("p", { class: "muted" }, "Loading report…"));
  fill(
    root,
    h(
      "div",
      { class: "report-view" },
      h(
        "div",
        { class: "view-head" },
        h("a", { href: "#/review", class: "back" }, "← Review"),
        h("h1", null, "Call ", h("span", { class: "mono" }, id)),
        allowed("compliance") ? h("a", { href: `#/compliance/${encodeURIComponent(id)}`, class: "side-link" }, "Recording and audit trail") : null,
      ),
      body,
    ),
  );

  guard(
    body,
    async () => {
      const res = await unary(scope, (signal) => api.getReport({ callId: id }, { signal }));
      const r = JSON.parse(res.reportJson);
      chart = show(r);
    },
    () => fill(body, emptyBox(`No stored call has the id ${id}.`, "not-found")),
  );

  function show(r) {
    const sp = r.speakers || {};
    const ag = sp.agent || {};
    const cu = sp.customer || {};
    const ints = r.interruptions || [];
    const byAgent = ints.filter((i) => i.by === "agent").length;
    const fact = (k, v) => [h("dt", null, k), h("dd", { class: "tnum" }, v)];
    const summary = section(
      "Summary",
      null,
      h(
        "dl",
        { class: "facts-grid" },
        fact("Started (UTC)", utc(r.started_at)),
        fact("Agent", r.agent_id || "—"),
        fact("Status", r.status || "—"),
        fact("Duration", mmss(r.duration_s)),
        fact("Talk share agent / customer", `${pct(ag.talk_share)} / ${pct(cu.talk_share)}`),
        fact("Words/min agent / customer", `${num(ag.wpm, 0)} / ${num(cu.wpm, 0)}`),
        fact("Talk/listen ratio", num(r.talk_listen_ratio, 2)),
        fact("Interruptions agent / customer", `${byAgent} / ${ints.length - byAgent}`),
        fact("Silences", `${(r.silences || []).length} (${num(r.silence_total_s, 1)} s)`),
        fact("Overtalk", `${num(r.overtalk_s, 1)} s`),
      ),
      (r.warnings || []).length ? h("ul", { class: "warnings" }, r.warnings.map((w) => h("li", null, typeof w === "string" ? w : JSON.stringify(w)))) : null,
    );

    const sc = r.scorecard;
    const scorecard = section(
      "Scorecard",
      { "data-testid": "report-scorecard" },
      sc
        ? [
            h("p", { class: "score-total" }, "Score ", h("span", { class: "score-big tnum", "data-testid": "report-score" }, sc.score === null || sc.score === undefined ? "n.a." : num(sc.score, 1)), " / 100"),
            table(
              [{ label: "Item" }, { label: "Result" }, { label: "Weight", cls: "c-num" }, { label: "Evidence", cls: "c-text" }],
              (sc.items || []).map((it) => {
                const [label, cls] = scoreResult(it.score);
                return [it.name.replace(/_/g, " "), h("span", { class: `result result-${cls}` }, label), num(it.weight, 1), it.evidence || ""];
              }),
            ),
          ]
        : emptyBox("No scorecard (the call was not transcribed)."),
    );

    const fl = r.flags || {};
    const ev = fl.evidence || {};
    const flag = (on, label, evidence) =>
      h("li", { class: on ? "flag-on" : "flag-off" }, h("span", { class: "badge" }, on ? "YES" : "no"), ` ${label}`, on && evidence ? h("span", { class: "evidence" }, ` — ${evidence}`) : null);
    const flags = section(
      "Flags and complaint",
      null,
      h(
        "ul",
        { class: "flags" },
        flag(fl.apologised, "agent apologised", ev.apologised),
        flag(fl.escalation_requested, "escalation requested", ev.escalation_requested),
        flag(fl.cancellation_threatened, "cancellation threatened", ev.cancellation_threatened),
      ),
      h(
        "p",
        null,
        h("strong", null, "Complaint: "),
        r.complaint?.category || "none heard",
        r.complaint?.evidence ? h("span", { class: "evidence" }, ` — ${r.complaint.evidence}`) : null,
      ),
    );

    const sentCanvas = h("canvas", { role: "img", "aria-label": "Sentiment per turn over the call, agent and customer" });
    const s = r.sentiment || {};
    const sentiment = section(
      "Sentiment",
      { "data-testid": "report-sentiment" },
      h("p", { class: "muted small" }, `Agent ${num(s.agent?.start, 2)} → ${num(s.agent?.end, 2)} (${s.agent?.trend || "—"}), customer ${num(s.customer?.start, 2)} → ${num(s.customer?.end, 2)} (${s.customer?.trend || "—"})`),
      h("div", { class: "chart-area small-chart" }, sentCanvas),
    );

    const prompts = section(
      "Prompts",
      null,
      (r.prompts || []).length
        ? table(
            [{ label: "Time", cls: "c-num" }, { label: "Kind" }, { label: "Severity" }, { label: "Message" }, { label: "Evidence", cls: "c-text" }],
            r.prompts.map((p) => [mmss(p.t), p.kind, p.severity, p.message, p.evidence || ""]),
          )
        : emptyBox("No prompts."),
    );
    const redactions = section(
      "Redactions",
      null,
      (r.redactions || []).length
        ? table(
            [{ label: "Kind" }, { label: "Speaker" }, { label: "From", cls: "c-num" }, { label: "To", cls: "c-num" }],
            r.redactions.map((x) => [redactionKind(x.kind), x.speaker, `${num(x.start, 2)} s`, `${num(x.end, 2)} s`]),
          )
        : emptyBox("Nothing redacted."),
    );
    const commitments = section(
      "Commitments",
      null,
      (r.commitments || []).length ? h("ul", { class: "plain" }, r.commitments.map((c) => h("li", null, h("span", { class: "tnum muted" }, `${mmss(c.t)} `), c.text))) : emptyBox("No commitments heard."),
    );
    const transcript = section(
      "Transcript",
      null,
      (r.segments || []).length
        ? h(
            "div",
            { class: "transcript static", tabindex: "0", "aria-label": "Transcript" },
            r.segments.map((g) => h("div", { class: `utt final ${g.speaker}` }, h("span", { class: "utt-who" }, `${g.speaker} · ${num(g.start, 1)} s`), h("span", { class: "utt-text" }, g.text))),
          )
        : emptyBox("No transcript."),
    );

    fill(body, h("div", { class: "report-grid" }, h("div", { class: "col" }, summary, scorecard, flags, prompts, commitments), h("div", { class: "col" }, sentiment, transcript, redactions)));

    const turns = s.turns || [];
    const line = (who, color) => ({
      label: who,
      data: turns.filter((x) => x.speaker === who).map((x) => ({ x: x.t, y: x.score })),
      borderColor: color,
      backgroundColor: color,
      pointRadius: 2,
      borderWidth: 1.5,
      tension: 0,
    });
    return new Chart(sentCanvas, {
      type: "line",
      data: { datasets: [line("agent", COLORS.agent), line("customer", COLORS.customer)] },
      options: {
        responsive: true,
        parsing: true,
        scales: {
          x: { type: "linear", min: 0, max: Math.ceil(r.duration_s || 60), title: { display: true, text: "seconds" } },
          y: { min: -1, max: 1, title: { display: true, text: "score" } },
        },
      },
    });
  }

  return () => chart?.destroy();
}
