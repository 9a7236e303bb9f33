// Compliance view (compliance, admin): stored calls and the purge log; for one
// call its redacted recording (player + waveform with the redacted spans), the
// audit trail and its verification, and the export package.
import { api, unary, collectBlob } from "../api.js";
import { h, fill, mmss, num, utc, linkRow } from "../dom.js";
import { guard, section, emptyBox, table, redactionKind } from "./common.js";

export function render(ctx) {
  return ctx.id ? one(ctx) : list(ctx);
}

// ------------------------------------------------------------ list + purge log

function list(ctx) {
  const { root, scope } = ctx;
  const callsEl = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const purgeEl = h("div", { "data-testid": "purge-log" }, h("p", { class: "muted" }, "Loading…"));
  fill(
    root,
    h(
      "div",
      { class: "compliance-view" },
      h("div", { class: "view-head" }, h("h1", null, "Compliance")),
      section("Stored calls", null, callsEl),
      section("Purge log (retention)", null, purgeEl),
    ),
  );
  guard(callsEl, async () => {
    const res = await unary(scope, (signal) => api.listCalls({ limit: 200 }, { signal }));
    if (!res.calls.length) {
      fill(callsEl, emptyBox("No calls are stored yet."));
      return;
    }
    const cols = [
      { label: "Started (UTC)", cls: "c-date" },
      { label: "Call", cls: "c-id" },
      { label: "Agent", cls: "c-agent" },
      { label: "Duration", cls: "c-num" },
      { label: "Redactions", cls: "c-num" },
      { label: "Status" },
    ];
    fill(
      callsEl,
      table(
        cols,
        res.calls.map((c) => {
          const href = `#/compliance/${encodeURIComponent(c.callId)}`;
          return linkRow(
            h(
              "tr",
              { "data-testid": "compliance-row", "data-call-id": c.callId },
              h("td", { class: "c-date" }, c.startedAt || utc(c.storedAt)),
              h("td", { class: "c-id" }, h("a", { href }, c.callId)),
              h("td", { class: "c-agent" }, c.agentId || "—"),
              h("td", { class: "c-num" }, mmss(c.durationS)),
              h("td", { class: "c-num" }, String(c.redactions)),
              h("td", null, c.status),
            ),
            href,
          );
        }),
      ),
    );
  });
  guard(purgeEl, async () => {
    const res = await unary(scope, (signal) => api.listPurges({}, { signal }));
    fill(
      purgeEl,
      h(
        "p",
        { class: `verdict ${res.chainVerified ? "ok" : "broken"}`, "data-testid": "chain-verified" },
        res.chainVerified ? "✓ Anchor chain verified" : `✗ Anchor chain BROKEN: ${res.problem || "unknown problem"}`,
      ),
      res.purges.length
        ? table(
            [{ label: "When (UTC)", cls: "c-date" }, { label: "Older than", cls: "c-num" }, { label: "Calls", cls: "c-num" }, { label: "Call ids", cls: "c-text" }, { label: "Chain #", cls: "c-num" }],
            res.purges.map((p) => [utc(p.at), `${num(p.olderThanDays, 0)} days`, String(p.callIds.length), p.callIds.join(", ") || "—", String(p.seq)]),
          )
        : emptyBox("No purges recorded."),
    );
  });
}

// ------------------------------------------------------------ one call

function one(ctx) {
  const { root, scope, id } = ctx;
  const verdictEl = h("div", { class: "verdict pending", "data-testid": "compliance-verified", role: "status" }, "Verifying the audit trail…");
  const audio = h("audio", { controls: true, preload: "auto", "data-testid": "compliance-audio", "aria-label": "Redacted recording" });
  const canvas = h("canvas", { class: "waveform", "data-testid": "compliance-waveform", role: "img", "aria-label": "Waveform: agent (top), customer (bottom); redacted spans shaded" });
  const waveMsg = h("p", { class: "muted small wave-msg" }, "Loading the recording…");
  const spansEl = h("div", { "data-testid": "compliance-spans" }, h("p", { class: "muted" }, "Loading…"));
  const exportMsg = h("span", { class: "muted small", role: "status" });
  const exportBtn = h("button", { type: "button", class: "primary", "data-testid": "compliance-export" }, "Export package (.zip)");
  const playerEl = h("div", { class: "player" }, audio, h("div", { class: "wave-box" }, canvas), waveMsg);

  fill(
    root,
    h(
      "div",
      { class: "compliance-call" },
      h(
        "div",
        { class: "view-head" },
        h("a", { href: "#/compliance", class: "back" }, "← Compliance"),
        h("h1", null, "Call ", h("span", { class: "mono" }, id)),
        h("div", { class: "head-tools" }, exportBtn, exportMsg),
      ),
      verdictEl,
      section("Redacted recording", null, playerEl),
      section("Redacted spans (audit trail)", null, spansEl),
    ),
  );

  let url = null;
  let wave = null; // {img: ImageBitmap-like canvas, duration}
  let spans = [];
  let raf = 0;

  // ---- audit trail
  guard(
    spansEl,
    async () => {
      const res = await unary(scope, (signal) => api.getAuditTrail({ callId: id }, { signal }));
      if (res.verified) {
        verdictEl.className = "verdict ok";
        verdictEl.textContent = "✓ Chain verified: the audit trail, the recording's hash and the anchor agree.";
      } else {
        verdictEl.className = "verdict broken";
        verdictEl.textContent = `✗ Chain BROKEN: ${res.problem || "the audit trail does not verify"}`;
      }
      const lines = [];
      for (const l of res.lines) {
        try {
          lines.push(JSON.parse(l));
        } catch {
          lines.push({ type: "unreadable" });
        }
      }
      spans = lines.filter((x) => x.type === "redaction" || (x.start !== undefined && x.end !== undefined));
      if (!spans.length) {
        fill(spansEl, emptyBox("Nothing was redacted in this call."));
      } else {
        const cols = [
          { label: "#", cls: "c-num" },
          { label: "Kind" },
          { label: "Leg" },
          { label: "From", cls: "c-num" },
          { label: "To", cls: "c-num" },
          { label: "Method" },
          { label: "Confidence" },
          { label: "Rule" },
        ];
        const rows = spans.map((s, i) => {
          const seek = () => {
            audio.currentTime = Math.max(0, Number(s.start) || 0);
            drawPlayhead();
            audio.play().catch(() => {});
          };
          const tr = h(
            "tr",
            { "data-testid": "compliance-span", tabindex: "0", class: "clickable" },
            h("td", { class: "c-num" }, String(s.seq ?? i)),
            h("td", null, redactionKind(s.kind)),
            h("td", null, s.leg || s.speaker || "—"),
            h("td", { class: "c-num" }, h("button", { type: "button", class: "link tnum", onclick: seek, "aria-label": `Play from ${num(s.start, 2)} seconds` }, `${num(s.start, 2)} s`)),
            h("td", { class: "c-num" }, `${num(s.end, 2)} s`),
            h("td", null, s.method || "—"),
            h("td", null, s.confidence || "—"),
            h("td", null, s.rule || "—"),
          );
          tr.addEventListener("click", (e) => {
            if (!e.target.closest("button")) seek();
          });
          tr.addEventListener("keydown", (e) => {
            if (e.key === "Enter" && e.target === tr) seek();
          });
          return tr;
        });
        const other = lines.length - spans.length;
        fill(spansEl, table(cols, rows), h("p", { class: "muted small" }, `${spans.length} redaction line${spans.length === 1 ? "" : "s"}, ${other} other line${other === 1 ? "" : "s"} in the trail. Click a span to play it.`));
      }
      drawPlayhead();
    },
    () => {
      verdictEl.className = "verdict broken";
      verdictEl.textContent = "No stored call has this id.";
      fill(spansEl, emptyBox("No audit trail."));
    },
  );

  // ---- recording
  guard(
    playerEl,
    async () => {
      const blob = await collectBlob(scope, (signal) => api.getRecording({ callId: id }, { signal }), "audio/wav");
      url = URL.createObjectURL(blob);
      audio.src = url;
      const bytes = await blob.arrayBuffer();
      const rate = new DataView(bytes).getUint32(24, true) || 8000;
      try {
        const actx = new OfflineAudioContext(2, 1, rate);
        const buf = await actx.decodeAudioData(bytes);
        wave = drawWaveform(buf);
        waveMsg.textContent = `${mmss(buf.duration)} · ${buf.numberOfChannels === 2 ? "stereo: agent top (left), customer bottom (right)" : "mono"} · ${buf.sampleRate} Hz. Shaded: redacted. Click to seek.`;
        drawPlayhead();
      } catch (e) {
        waveMsg.textContent = `The waveform cannot be drawn: ${e.message}`;
      }
    },
    () => fill(playerEl, emptyBox("No recording is stored for this call.")),
  );

  function drawWaveform(buf) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(300, canvas.clientWidth || 1000);
    const hgt = Math.max(80, canvas.clientHeight || 160);
    const off = document.createElement("canvas");
    off.width = Math.round(w * dpr);
    off.height = Math.round(hgt * dpr);
    const g = off.getContext("2d");
    g.fillStyle = "#f8fafc";
    g.fillRect(0, 0, off.width, off.height);
    const chans = Math.min(2, buf.numberOfChannels);
    const laneH = off.height / 2;
    const colors = ["#2563eb", "#d97706"];
    for (let c = 0; c < 2; c++) {
      const data = buf.getChannelData(Math.min(c, chans - 1));
      const mid = laneH * c + laneH / 2;
      const per = data.length / off.width;
      g.fillStyle = colors[c];
      for (let x = 0; x < off.width; x++) {
        let lo = 0;
        let hi = 0;
        const a = Math.floor(x * per);
        const b = Math.min(data.length, Math.floor((x + 1) * per));
        for (let i = a; i < b; i++) {
          const v = data[i];
          if (v < lo) lo = v;
          else if (v > hi) hi = v;
        }
        const y0 = mid - hi * (laneH / 2) * 0.95;
        const y1 = mid - lo * (laneH / 2) * 0.95;
        g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
      }
      if (chans === 1) break;
    }
    g.fillStyle = "#cbd5e1";
    g.fillRect(0, laneH, off.width, Math.max(1, dpr));
    g.fillStyle = "#475569";
    g.font = `${11 * dpr}px system-ui, sans-serif`;
    g.fillText("agent", 4 * dpr, 12 * dpr);
    if (chans > 1) g.fillText("customer", 4 * dpr, laneH + 12 * dpr);
    canvas.width = off.width;
    canvas.height = off.height;
    return { img: off, duration: buf.duration, laneH, chans };
  }

  function drawPlayhead() {
    if (!wave) return;
    const g = canvas.getContext("2d");
    g.drawImage(wave.img, 0, 0);
    const W = canvas.width;
    const px = (t) => (t / wave.duration) * W;
    for (const s of spans) {
      const leg = s.leg || s.speaker;
      const lane = leg === "customer" ? 1 : leg === "agent" ? 0 : -1;
      const y = lane < 0 || wave.chans === 1 ? 0 : lane * wave.laneH;
      const hh = lane < 0 || wave.chans === 1 ? canvas.height : wave.laneH;
      g.fillStyle = "rgba(220, 38, 38, 0.25)";
      g.fillRect(px(Number(s.start)), y, Math.max(2, px(Number(s.end)) - px(Number(s.start))), hh);
      g.fillStyle = "rgba(220, 38, 38, 0.9)";
      g.fillRect(px(Number(s.start)), y, Math.max(1, window.devicePixelRatio || 1), hh);
    }
    g.fillStyle = "#111827";
    g.fillRect(px(audio.currentTime || 0), 0, Math.max(2, window.devicePixelRatio || 1), canvas.height);
  }

  const tick = () => {
    drawPlayhead();
    if (!audio.paused) raf = requestAnimationFrame(tick);
  };
  audio.addEventListener("play", () => {
    cancelAnimationFrame(raf);
    raf = requestAnimationFrame(tick);
  });
  audio.addEventListener("seeked", drawPlayhead);
  audio.addEventListener("pause", drawPlayhead);
  canvas.addEventListener("click", (e) => {
    if (!wave) return;
    const r = canvas.getBoundingClientRect();
    audio.currentTime = ((e.clientX - r.left) / r.width) * wave.duration;
    drawPlayhead();
  });

  // ---- export
  exportBtn.addEventListener("click", async () => {
    exportBtn.disabled = true;
    exportMsg.textContent = "Preparing the package…";
    await guard(exportMsg, async () => {
      const blob = await collectBlob(scope, (signal) => api.exportCall({ callId: id }, { signal }), "application/zip");
      const href = URL.createObjectURL(blob);
      const a = h("a", { href, download: `${id}-redacted.zip`, class: "hidden-link" });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
      exportMsg.textContent = `Downloaded ${id}-redacted.zip (${Math.round(blob.size / 1024)} KiB). The export is logged.`;
    });
    exportBtn.disabled = false;
  });

  return () => {
    cancelAnimationFrame(raf);
    audio.pause();
    audio.removeAttribute("src");
    if (url) URL.revokeObjectURL(url);
  };
}
