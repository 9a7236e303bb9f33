#!/usr/bin/env python3
"""Score callscope's card-data redaction on generated payment calls (issue 14).

    python3 scripts/eval-redaction.py --bin PATH/TO/callscope --calls /work/gen/payment/test \
        [--data-dir D] [--json OUT] [--live] [--live-calls N] [--live-speed S]

Runs `callscope analyze --data-dir D <every call>.wav` (skipped with --no-run
when D already holds the results), then checks what was stored against each
call's <id>.truth.json (written by scripts/gen-payment-calls.py; the dev
corpus truth files work too):

* audible sensitive spans: a span fails when more than 10 % of its 20 ms
  frames on the speaker's channel of the stored recording are above -45 dBFS
  (frames that are a single pure tone, a beep, are not counted); on calls with
  line echo, the echo of the span on the other channel is reported apart;
* stored-text leaks: every file under D (reports, audit trails, database, also
  gzip / UTF-16) scanned for 6+ consecutive digits of a PAN (digits or digit
  words, "double"/"triple", "oh", tens, separators and fillers ignored, also
  across segments); per span, the transcript segments (and prompt evidence)
  near its time are checked for 6+ PAN digits, the CVV, the expiry;
* over-redaction: (a) plain speech: voiced frames of utterances with no number
  (truth has_number false) muted in the stored audio (<= -45 dBFS there while
  > -40 dBFS in the original), more than 0.25 s from sensitive/last-four spans;
  (b) all voiced non-sensitive speech (truth voiced_spans) outside those spans;
  also distractors (phone, order numbers, amounts, dates...) mostly muted;
* WER of the stored transcript on utterances with no numbers, per speaker
  (normalised as src/eval.rs score_words; truth utterances sharing a stored
  segment are scored together, as tests/redaction.rs does).

--live also starts `callscope serve` on a loopback port with a temporary data
dir, replays calls into it (`replay -v`, plus a `watch --call -v` watcher),
joins every transcript text per call in time order and counts PAN digits
(6+), CVV/expiry digits at their time, and any digit at all in live events.

Results: a table on stdout, everything (per span, per call) in --json.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

try:
    import numpy as np
except ImportError:
    sys.exit("numpy is missing: pip install numpy")

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
MONTH_ABBR = {m[:3]: i for i, m in enumerate(MONTHS)}
MONTH_ABBR["sept"] = 8
# Words between digit groups that do not end a number ("four five five six, and then, one two...").
FILLERS = {"and", "then", "okay", "ok", "um", "uh", "er", "erm", "hmm", "mm", "hang", "on", "right", "so", "wait",
           "next", "is", "after", "that", "its", "it's", "a", "the", "dash", "slash", "space", "yeah", "yes"}

# --------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------


def _mulaw_table():
    t = np.zeros(256, np.float32)
    for b in range(256):
        u = ~b & 0xFF
        sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0F
        mag = ((mant << 3) + 0x84) << exp
        v = (mag - 0x84)
        t[b] = (-v if sign else v) / 32768.0
    return t


def _alaw_table():
    t = np.zeros(256, np.float32)
    for b in range(256):
        a = b ^ 0x55
        sign, exp, mant = a & 0x80, (a >> 4) & 7, a & 0x0F
        v = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
        t[b] = (v if sign else -v) / 32768.0
    return t


MULAW, ALAW = _mulaw_table(), _alaw_table()


def read_wav(path):
    """(rate, [leg arrays float32]) for PCM 8/16/24/32, float and G.711 WAVs."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size] if size not in (0, 0xFFFFFFFF) or cid != b"data" else data[pos + 8:]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
            fmt_body = body
        elif cid == b"data":
            pcm = body
            break
        pos += 8 + size + (size & 1)
    tag, ch, rate, _, align, bits = fmt
    if tag == 0xFFFE:
        tag = struct.unpack("<H", fmt_body[24:26])[0]
    width = align // ch
    n = len(pcm) // align
    raw = pcm[: n * align]
    if tag == 7:
        x = MULAW[np.frombuffer(raw, np.uint8)]
    elif tag == 6:
        x = ALAW[np.frombuffer(raw, np.uint8)]
    elif tag == 3:
        x = np.frombuffer(raw, "<f4").astype(np.float32)
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / (1 << 23)
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / (1 << 31)
    x = x.reshape(-1, ch)
    return rate, [x[:, i].copy() for i in range(ch)]


class Leg:
    """Fast 20 ms frame energies at any offset (cumulative sum of squares)."""

    def __init__(self, x, rate):
        self.x, self.rate = x, rate
        self.cs = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        self.n = rate // 50

    def frames(self, start, end):
        """Start sample of every 20 ms frame of [start, end), as tests/redaction.rs steps them."""
        k = int(np.floor((end - start) / 0.02 + 1e-9))
        if k <= 0:
            return np.zeros(0, int)
        ts = start + 0.02 * np.arange(k)
        idx = (ts * self.rate).astype(int)
        idx = idx[(idx >= 0) & (idx + self.n <= len(self.x))]
        return idx

    def db(self, idx):
        e = (self.cs[idx + self.n] - self.cs[idx]) / self.n
        return 10 * np.log10(np.maximum(e, 1e-12))

    def is_beep(self, i):
        f = self.x[i:i + self.n]
        s = np.abs(np.fft.rfft(f * np.hanning(len(f)))) ** 2
        k = int(np.argmax(s))
        return s[max(0, k - 2):k + 3].sum() >= 0.9 * s.sum()


def loud_fraction(leg, start, end, beeps_ok=True):
    idx = leg.frames(start, end)
    if len(idx) == 0:
        return 0, 0
    d = leg.db(idx)
    loud = [i for i, v in zip(idx, d) if v > -45.0]
    if beeps_ok:
        loud = [i for i in loud if not leg.is_beep(i)]
    return len(idx), len(loud)


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------
TOKEN = re.compile(r"[a-z0-9']+")


def digit_stream(text, months=False):
    """Digits of a text: digits and number words (oh, double/triple, teens, tens), separators and
    fillers ignored; any other word breaks the run (a space)."""
    toks = TOKEN.findall(text.lower().replace("-", " "))
    out = []
    i = 0
    while i < len(toks):
        w = toks[i].strip("'")
        nxt = toks[i + 1].strip("'") if i + 1 < len(toks) else ""
        if w.isdigit():
            out.append(w)
        elif w in UNITS:
            out.append(str(UNITS.index(w)))
        elif w in ("oh", "o"):
            out.append("0")
        elif w in TEENS:
            out.append(str(10 + TEENS.index(w)))
        elif w in TENS and w:
            if nxt in UNITS[1:]:
                out.append(f"{TENS.index(w)}{UNITS.index(nxt)}")
                i += 1
            else:
                out.append(f"{TENS.index(w)}0")
        elif w in ("double", "triple") and (nxt in UNITS or nxt in ("oh", "o") or nxt.isdigit() and len(nxt) == 1):
            d = "0" if nxt in ("oh", "o") else (nxt if nxt.isdigit() else str(UNITS.index(nxt)))
            out.append(d * (2 if w == "double" else 3))
            i += 1
        elif months and (w in MONTHS or w in MONTH_ABBR):
            out.append(f"{(MONTHS.index(w) if w in MONTHS else MONTH_ABBR[w]) + 1:02d}")
        elif w in FILLERS:
            pass
        else:
            out.append(" ")
        i += 1
    return "".join(out)


def pan_hit(stream, pan, k=6):
    """Longest run of PAN digits (>= k) found in the stream, or 0."""
    best = 0
    for run in stream.split():
        if len(run) < k:
            continue
        for a in range(len(pan)):
            for b in range(len(pan), a + max(k, best + 1) - 1, -1):
                if pan[a:b] in run:
                    best = max(best, b - a)
                    break
    return best if best >= k else 0


def expiry_forms(mmyy):
    mm, yy = mmyy[:2], mmyy[2:]
    forms = {mm + yy, mm + "20" + yy}
    if mm[0] == "0":
        forms |= {mm[1] + yy, mm[1] + "20" + yy}
    return forms


UNIT_W = {w: i for i, w in enumerate(UNITS)}


def score_words(text):
    """Port of src/eval.rs score_words: lower-case words, digits and number words compare digit by digit."""
    toks = []
    for w in re.split(r"[\s\-]+", text):
        w = "".join(ch for ch in w if ch.isalnum() or ch == "'").lower()
        if w:
            toks.append(w)
    out, i = [], 0
    while i < len(toks):
        w = toks[i]
        if w.isdigit() and w.isascii():
            out.extend(list(w))
        elif w in UNIT_W:
            out.append(str(UNIT_W[w]))
        elif w in TEENS:
            out.extend(["1", str(TEENS.index(w))])
        elif w in TENS and w:
            out.append(str(TENS.index(w)))
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt in UNITS[1:]:
                out.append(str(UNIT_W[nxt]))
                i += 1
            else:
                out.append("0")
        else:
            out.append(w)
        i += 1
    return out


def edits(r, h):
    prev = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        cur = [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            cur[j] = min(prev[j - 1] + (r[i - 1] != h[j - 1]), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return prev[len(h)]


def score_wer(truth, report, acc):
    """tests/redaction.rs score_wer, with 'has a number' in place of 'sensitive'."""
    utts, segs = truth["utterances"], report.get("segments", [])
    ov = lambda a, b: max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    span = lambda v: (v["start"], v["end"])
    group = list(range(len(utts)))

    def root(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i
    seg_of = []
    for s in segs:
        hits = [i for i, u in enumerate(utts) if u["speaker"] == s["speaker"] and ov(span(u), span(s)) > 0.15]
        for a, b in zip(hits, hits[1:]):
            group[root(a)] = root(b)
        seg_of.append(hits[0] if hits else None)
    roots = [root(i) for i in range(len(utts))]
    done = set()
    for i in range(len(utts)):
        g = roots[i]
        if g in done:
            continue
        done.add(g)
        members = [u for j, u in enumerate(utts) if roots[j] == g]
        if any(u.get("has_number", u.get("sensitive")) for u in members):
            continue
        ref = score_words(" ".join(u["text"] for u in members))
        hyp = score_words(" ".join(s["text"] for s, k in zip(segs, seg_of) if k is not None and roots[k] == g))
        who = members[0]["speaker"]
        acc[who][0] += edits(ref, hyp)
        acc[who][1] += len(ref)


# --------------------------------------------------------------------------
# Stored files
# --------------------------------------------------------------------------

def json_strings(value, key=""):
    """String and integer values of parsed JSON, except hashes (keys ending in sha256): float times
    and hex digests are not text, and read as digit runs they match six PAN digits by chance."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v, key)
    elif isinstance(value, str) and not key.endswith("sha256"):
        yield value
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)


BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]+")


def file_texts(path):
    data = path.read_bytes()
    out = []
    if path.suffix in (".json", ".jsonl"):
        try:
            text = data.decode("utf-8")
            docs = [json.loads(text)] if path.suffix == ".json" else [json.loads(l) for l in text.splitlines() if l.strip()]
            return ["\n".join(s for d in docs for s in json_strings(d))]
        except ValueError:
            pass  # not valid JSON: scanned as raw text below
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except Exception:
            pass
    out.append(data.decode("utf-8", "replace"))
    # A SQLite file says how it stores text (header offset 56; 1 = UTF-8):
    # read as UTF-16, its binary pages make "text" of their own.
    sqlite_utf8 = data[:16] == b"SQLite format 3\x00" and int.from_bytes(data[56:60], "big") == 1
    if data.count(b"\x00") > len(data) // 8 and not sqlite_utf8:
        for enc in ("utf-16-le", "utf-16-be"):
            out.append(data.decode(enc, "replace"))
        out.append(data.replace(b"\x00", b"").decode("utf-8", "replace"))
    # Binary structure between stored strings (SQLite pages, FTS5 index
    # varints) is not text: bytes such as 0x31 0x00 0x31 read as "1 1" and
    # joined a dev PAN of mostly ones by chance. Control bytes break a run.
    return [BINARY.sub(" binary ", t) for t in out]


def scan_stored(data_dir, pans):
    """{pan: [(file, longest run)]} over every non-audio file under data_dir."""
    hits = defaultdict(list)
    for p in sorted(Path(data_dir).rglob("*")):
        if not p.is_file() or p.suffix.lower() == ".wav" or p.name.endswith(".tmp"):
            continue
        streams = [digit_stream(t) for t in file_texts(p)]
        for pan in pans:
            best = max((pan_hit(s, pan) for s in streams), default=0)
            if best:
                hits[pan].append((str(p.relative_to(data_dir)), best))
    return hits


def segs_near(report, a, b, pad, speaker=None):
    out = [s for s in report.get("segments", []) if s["end"] > a - pad and s["start"] < b + pad
           and (speaker is None or s["speaker"] == speaker)]
    return sorted(out, key=lambda s: s["start"])


def text_leak(span, report, pad_pan=2.0):
    """Which sensitive digits of this span the stored transcript (and prompt evidence) keeps near its time."""
    kind = span.get("carries", span["kind"]) if span["kind"] == "dtmf" else span["kind"]
    a, b = span["start"], span["end"]
    prompts = [p.get("evidence", "") + " " + p.get("message", "") for p in report.get("prompts", [])
               if a - 3 <= p.get("t", -1e9) <= b + 15]
    if kind == "pan":
        pan = span.get("pan") or span["digits"]
        texts = [" ".join(s["text"] for s in segs_near(report, a, b, pad_pan)),
                 " ".join(s["text"] for s in segs_near(report, a, b, pad_pan, span["speaker"]))] + prompts
        best = max(pan_hit(digit_stream(t), pan) for t in texts)
        return {"pan_digits": best} if best else None
    if kind == "cvv":
        texts = [" ".join(s["text"] for s in segs_near(report, a, b, 2.0))] + prompts
        if any(span["digits"] in digit_stream(t) for t in texts):
            return {"cvv": span["digits"]}
        return None
    texts = [" ".join(s["text"] for s in segs_near(report, a, b, 3.0))] + prompts
    forms = expiry_forms(span["digits"])
    if any(f in digit_stream(t, months=True).replace(" ", "|") for t in texts for f in forms):
        return {"expiry": span["digits"]}
    return None


# --------------------------------------------------------------------------
# Scoring one data dir
# --------------------------------------------------------------------------

def leg_of(s):
    return 1 if s["speaker"] == "customer" else 0


def score(calls, data_dir):
    res = {"spans": [], "calls": {}, "over_plain": [0, 0], "over_all": [0, 0], "wer": {"agent": [0, 0], "customer": [0, 0]},
           "distractors": [0, 0], "echo": [0, 0], "plain_muted_utts": [], "stored_pan_files": {},
           "over_plain_by_rule": defaultdict(int), "over_all_by_rule": defaultdict(int)}
    all_pans = {}
    for cid, truth, wav in calls:
        for s in truth["sensitive"]:
            p = s.get("pan") or (s["digits"] if s.get("carries") == "pan" else None)
            if p:
                all_pans[p] = cid
    stored_hits = scan_stored(data_dir, list(all_pans))
    for pan, files in stored_hits.items():
        res["stored_pan_files"].setdefault(all_pans[pan], []).extend(files)
    for cid, truth, wav in calls:
        rec = Path(data_dir) / "recordings" / f"{cid}.wav"
        rep = Path(data_dir) / "reports" / f"{cid}.json"
        if not rec.exists() or not rep.exists():
            res["calls"][cid] = {"error": "no stored recording/report"}
            for s in truth["sensitive"]:
                res["spans"].append({"call": cid, "kind": s["kind"], "variation": s.get("variation", []),
                                     "audible": True, "text_leak": None, "missing": True})
            continue
        rate, stored = read_wav(rec)
        _, orig = read_wav(wav)
        S = [Leg(x, rate) for x in stored]
        O = [Leg(x, rate) for x in orig]
        report = json.loads(rep.read_text())
        echo = truth.get("echo")
        call = {"spans": 0, "audible": 0, "text_leaks": 0, "stored_pan_files": res["stored_pan_files"].get(cid, [])}
        for s in truth["sensitive"]:
            total, loud = loud_fraction(S[leg_of(s)], s["start"], s["end"])
            audible = total == 0 or loud > 0.1 * total
            leak = text_leak(s, report)
            row = {"call": cid, "id": s.get("id"), "kind": s["kind"], "carries": s.get("carries"),
                   "speaker": s["speaker"], "start": s["start"], "end": s["end"], "text": s.get("text"),
                   "variation": s.get("variation", []), "loud_frames": loud, "frames": total,
                   "audible": audible, "text_leak": leak}
            if echo and echo["from"] == s["speaker"]:
                other = 1 - leg_of(s)
                d = echo["delay_s"]
                t0, l0 = loud_fraction(O[other], s["start"] + d, s["end"] + d, beeps_ok=False)
                if t0 and l0 > 0.1 * t0:  # the echo is audible in the original
                    t1, l1 = loud_fraction(S[other], s["start"] + d, s["end"] + d)
                    row["echo_audible"] = l1 > 0.1 * t1
                    res["echo"][0] += int(row["echo_audible"])
                    res["echo"][1] += 1
            res["spans"].append(row)
            call["spans"] += 1
            call["audible"] += int(audible)
            call["text_leaks"] += int(bool(leak))
        # over-redaction
        prot = [(leg_of(s), s["start"] - 0.25, s["end"] + 0.25) for s in truth["sensitive"] + truth.get("allowed", [])]
        if echo:
            to = 0 if echo["to"] == "agent" else 1
            prot += [(to, s["start"] - 0.25, s["end"] + 0.25 + echo["delay_s"]) for s in truth["sensitive"]
                     if s["speaker"] == echo["from"]]

        def unprotected(leg, idx):
            t = idx / rate
            keep = np.ones(len(idx), bool)
            for l, a, b in prot:
                if l == leg:
                    keep &= ~((t + 0.02 > a) & (t < b))
            return idx[keep]

        # The audit trail says which rule masked what (callscope >= the
        # `rule` field); muted frames are attributed to the first entry
        # covering them, or to "none" (a mask the trail does not explain).
        trail = []
        ap = Path(data_dir) / "audit" / f"{cid}.jsonl"
        if ap.exists():
            for line in ap.read_text().splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("type") == "redaction":
                    rule = e.get("rule", "?") + ("+echo" if e.get("echo") else "")
                    trail.append((0 if e["leg"] == "agent" else 1, e["start"], e["end"], rule))

        def muted(leg, a, b, by_rule=None):
            idx = unprotected(leg, O[leg].frames(a, b))
            if len(idx) == 0:
                return 0, 0
            v = O[leg].db(idx) > -40
            m = S[leg].db(idx) <= -45
            if by_rule is not None:
                for i in idx[v & m]:
                    t = i / rate
                    rule = next((r for l, x, y, r in trail if l == leg and x - 0.03 <= t <= y + 0.03), "none")
                    by_rule[rule] += 1
            return int(v.sum()), int((v & m).sum())
        for u in truth["utterances"]:
            if u.get("has_number", u.get("sensitive")):
                continue
            v, m = muted(leg_of(u), u["start"], u["end"], res["over_plain_by_rule"])
            res["over_plain"][0] += m
            res["over_plain"][1] += v
            if v and m > 0.3 * v:
                res["plain_muted_utts"].append({"call": cid, "speaker": u["speaker"], "start": u["start"],
                                                "text": u["text"], "muted_frac": round(m / v, 2)})
        for leg, who in enumerate(("agent", "customer")):
            for a, b in truth.get("speakers", {}).get(who, {}).get("voiced_spans", []):
                v, m = muted(leg, a, b, res["over_all_by_rule"])
                res["over_all"][0] += m
                res["over_all"][1] += v
        for dsp in truth.get("distractors", []):
            if "start" not in dsp:
                continue
            v, m = muted(leg_of(dsp), dsp["start"], dsp["end"])
            if v:
                res["distractors"][1] += 1
                res["distractors"][0] += int(m > 0.5 * v)
        score_wer(truth, report, res["wer"])
        res["calls"][cid] = call
    return res


# --------------------------------------------------------------------------
# Live
# --------------------------------------------------------------------------
LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s (agent|customer|-)\s+(… )?(.*)$")
PROMPT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s PROMPT \[[^\]]*\] [^:]*: (.*)$")
DIGITISH = re.compile(r"\d|\b(" + "|".join(UNITS + TEENS + [t for t in TENS if t] + ["oh", "double", "triple"]) + r")\b", re.I)


def free_port():
    """50051 (watch's default server) when free, so that a plain `watch --call` reaches it; else any."""
    for want in (50051, 0):
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", want))
                return s.getsockname()[1]
        except OSError:
            continue


def parse_events(lines):
    evs = []
    for n, ln in enumerate(lines):
        m = LINE.match(ln)
        if m and re.fullmatch(r"pace \d+ wpm|Speaking(Started|Stopped)", m.group(4).strip()):
            continue
        if m:
            evs.append({"n": n, "t": float(m.group(1)), "speaker": m.group(2), "final": not m.group(3),
                        "text": m.group(4)})
            continue
        m = PROMPT.match(ln)
        if m:
            evs.append({"n": n, "t": float(m.group(1)), "speaker": "-", "final": True, "prompt": True,
                        "text": m.group(2)})
    return evs


def live(args, calls, cwd):
    tmp = Path(tempfile.mkdtemp(prefix="callscope-live-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "data")]
    if args.model:
        cmd += ["--model", args.model]
    log = open(tmp / "serve.log", "w")
    srv = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    out = {"calls": {}, "spans": []}
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if srv.poll() is not None:
                    raise RuntimeError("serve exited: " + (tmp / "serve.log").read_text()[-2000:])
                time.sleep(0.2)
        time.sleep(1.0)
        for cid, truth, wav in calls[: args.live_calls or len(calls)]:
            watch_lines = []
            watch_errors = set()

            def watcher():
                # `watch --call` refuses --server/-v next to --call in some builds (clap group);
                # then only the plain form against the default server works.
                forms = [["watch", "--call", cid, "-v", "--server", url]]
                if port == 50051:
                    forms.append(["watch", "--call", cid])
                env = {k: v for k, v in os.environ.items() if k != "CALLSCOPE_SERVER"}
                for _ in range(50):
                    for form in forms:
                        p = subprocess.run([args.bin] + form, cwd=cwd, capture_output=True, text=True, env=env)
                        watch_lines.extend(p.stdout.splitlines())
                        if p.stdout.strip():
                            return
                        if "cannot be used with" in p.stderr:
                            watch_errors.add(p.stderr.strip().splitlines()[0])
                            continue
                        break
                    time.sleep(0.2)
            th = threading.Thread(target=watcher, daemon=True)
            th.start()
            t0 = time.time()
            p = subprocess.run([args.bin, "replay", str(wav), "--server", url, "--speed", str(args.live_speed),
                                "--call-id", cid, "-v"], cwd=cwd, capture_output=True, text=True)
            th.join(timeout=30)
            lines = p.stdout.splitlines()
            (tmp / f"{cid}.replay.txt").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
            (tmp / f"{cid}.watch.txt").write_text("\n".join(watch_lines))
            res = live_score(cid, truth, parse_events(lines), parse_events(watch_lines))
            res["replay_rc"] = p.returncode
            res["watch_lines"] = len(watch_lines)
            res["watch_cli_errors"] = sorted(watch_errors)
            res["seconds"] = round(time.time() - t0, 1)
            out["calls"][cid] = res
            out["spans"].extend(res.pop("spans"))
            print(f"  live {cid}: {res['pan_leaks']} PAN, {res['cvv_leaks']} CVV, {res['expiry_leaks']} expiry leaks; "
                  f"{res['events_with_digits']}/{res['transcript_events']} transcript events with digits "
                  f"({res['seconds']} s)", file=sys.stderr)
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
        log.close()
    out["stored"] = score(calls[: args.live_calls or len(calls)], tmp / "data") if (tmp / "data").exists() else None
    out["log_dir"] = str(tmp)
    return out


def live_score(cid, truth, evs, wevs):
    tr = [e for e in evs + wevs if not e.get("prompt")]
    allev = evs + wevs
    finals = sorted([e for e in evs if e["final"] and not e.get("prompt")], key=lambda e: (e["t"], e["n"]))
    streams = [" ".join(e["text"] for e in finals),                                  # finals in time order
               " ".join(e["text"] for e in sorted(evs, key=lambda e: e["n"])),       # everything as it arrived
               " ".join(e["text"] for e in sorted(wevs, key=lambda e: e["n"]))]      # what a watcher saw
    for who in ("agent", "customer"):
        streams.append(" ".join(e["text"] for e in finals if e["speaker"] == who))
    streams += [e["text"] for e in allev]
    spans, pan_leaks, cvv_leaks, exp_leaks = [], 0, 0, 0
    for s in truth["sensitive"]:
        kind = s.get("carries", s["kind"]) if s["kind"] == "dtmf" else s["kind"]
        leak = None
        if kind == "pan":
            pan = s.get("pan") or s["digits"]
            best = max((pan_hit(digit_stream(t), pan) for t in streams), default=0)
            if best:
                leak = {"pan_digits": best}
                pan_leaks += 1
        else:
            near = [e for e in allev if s["start"] - 3 <= e["t"] <= s["end"] + 15]
            joined = " ".join(e["text"] for e in sorted(near, key=lambda e: (e["t"], e["n"])))
            texts = [joined] + [e["text"] for e in near]
            if kind == "cvv" and any(s["digits"] in digit_stream(t) for t in texts):
                leak = {"cvv": s["digits"]}
                cvv_leaks += 1
            if kind == "expiry" and any(f in digit_stream(t, True) for t in texts for f in expiry_forms(s["digits"])):
                leak = {"expiry": s["digits"]}
                exp_leaks += 1
        spans.append({"call": cid, "kind": s["kind"], "carries": s.get("carries"), "variation": s.get("variation", []),
                      "live_leak": leak})
    with_digits = [e for e in tr if DIGITISH.search(e["text"])]
    return {"spans": spans, "pan_leaks": pan_leaks, "cvv_leaks": cvv_leaks, "expiry_leaks": exp_leaks,
            "transcript_events": len(tr), "events_with_digits": len(with_digits),
            "digit_tokens": sum(len(DIGITISH.findall(e["text"])) for e in tr),
            "examples_with_digits": [f"{e['t']:.1f} {e['speaker']} {'' if e['final'] else '(partial) '}{e['text']}"
                                     for e in with_digits[:8]]}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def pct(a, b):
    return f"{100.0 * a / b:5.1f} %" if b else "    - "


def breakdown(spans, key_fail):
    by = defaultdict(lambda: [0] * (1 + len(key_fail)))
    for s in spans:
        keys = ["ALL", "kind=" + (s["kind"] + ("/" + s["carries"] if s.get("carries") else ""))] + \
            ["var=" + v for v in s.get("variation", [])]
        for k in keys:
            by[k][0] += 1
            for j, f in enumerate(key_fail):
                by[k][j + 1] += int(bool(f(s)))
    return by


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.expanduser("~/.cache/callscope/target/release/callscope"))
    ap.add_argument("--calls", required=True, help="directory with <id>.wav + <id>.truth.json")
    ap.add_argument("--data-dir", help="callscope data dir (default: a new temporary dir)")
    ap.add_argument("--no-run", action="store_true", help="score an existing --data-dir without running analyze")
    ap.add_argument("--model", help="whisper model (passed as --model)")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--only", help="comma-separated call ids")
    ap.add_argument("--live", action="store_true", help="also replay calls into `callscope serve` and scan live events")
    ap.add_argument("--live-only", action="store_true", help="only the live part")
    ap.add_argument("--live-calls", type=int, default=0, help="replay only the first N calls (0: all)")
    ap.add_argument("--live-speed", type=float, default=2.0, help="replay speed (1 = real time)")
    args = ap.parse_args()
    cwd = Path(__file__).resolve().parent.parent  # repo root: the default model path is relative to it
    cdir = Path(args.calls)
    calls = []
    for t in sorted(cdir.glob("*.truth.json")):
        cid = t.name[: -len(".truth.json")]
        wav = cdir / f"{cid}.wav"
        if wav.exists() and (not args.only or cid in args.only.split(",")):
            calls.append((cid, json.loads(t.read_text()), wav))
    if not calls:
        sys.exit(f"no <id>.wav + <id>.truth.json in {cdir}")
    out = {"bin": args.bin, "calls_dir": str(cdir), "n_calls": len(calls)}
    if not args.live_only:
        data = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="callscope-eval-"))
        if not args.no_run:
            if data.exists() and any(data.iterdir()):
                sys.exit(f"{data} is not empty: give a new --data-dir, or --no-run to score it")
            cmd = [args.bin, "analyze", "--data-dir", str(data)] + (["--model", args.model] if args.model else []) + \
                [str(w) for _, _, w in calls]
            t0 = time.time()
            p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
            out["analyze_seconds"] = round(time.time() - t0, 1)
            out["audio_seconds"] = round(sum(t["duration_s"] for _, t, _ in calls), 1)
            if p.returncode != 0:
                print(p.stderr[-3000:], file=sys.stderr)
                print(f"warning: analyze exited {p.returncode}", file=sys.stderr)
        out["data_dir"] = str(data)
        res = score(calls, data)
        spans = res["spans"]
        by = breakdown(spans, [lambda s: s["audible"], lambda s: s["text_leak"],
                               lambda s: s["audible"] or s["text_leak"]])
        out["offline"] = {
            "sensitive_spans": len(spans),
            "audible": sum(s["audible"] for s in spans),
            "text_leaks_near_span": sum(bool(s["text_leak"]) for s in spans),
            "calls_with_pan_digits_in_stored_files": len(res["stored_pan_files"]),
            "stored_pan_files": res["stored_pan_files"],
            "echo_leg_audible": res["echo"],
            "over_redaction_plain": {"muted": res["over_plain"][0], "voiced": res["over_plain"][1],
                                     "frac": res["over_plain"][0] / max(1, res["over_plain"][1])},
            "over_redaction_all": {"muted": res["over_all"][0], "voiced": res["over_all"][1],
                                   "frac": res["over_all"][0] / max(1, res["over_all"][1])},
            "over_redaction_plain_by_rule": dict(res["over_plain_by_rule"]),
            "over_redaction_all_by_rule": dict(res["over_all_by_rule"]),
            "distractors_muted": {"muted": res["distractors"][0], "of": res["distractors"][1]},
            "wer_no_numbers": {k: {"errors": v[0], "words": v[1], "wer": v[0] / max(1, v[1])} for k, v in res["wer"].items()},
            "breakdown": {k: {"n": v[0], "audible": v[1], "text_leak": v[2], "any": v[3]} for k, v in sorted(by.items())},
            "plain_utterances_muted": res["plain_muted_utts"],
            "spans": spans, "calls": res["calls"],
        }
        if "analyze_seconds" in out:
            out["offline"]["speed_x_realtime"] = round(out["audio_seconds"] / max(out["analyze_seconds"], 1e-9), 1)
        o = out["offline"]
        print(f"\n== offline: {len(calls)} calls ({cdir}), data dir {data}")
        if "analyze_seconds" in out:
            print(f"   analyze {out['analyze_seconds']} s for {out['audio_seconds']} s of audio "
                  f"({o['speed_x_realtime']}x real time)")
        print(f"   audible sensitive spans   {o['audible']:4d} / {o['sensitive_spans']}")
        print(f"   text leaks near a span    {o['text_leaks_near_span']:4d} / {o['sensitive_spans']}")
        print(f"   calls with 6+ PAN digits anywhere in stored files: {o['calls_with_pan_digits_in_stored_files']}"
              + (f"  (longest run {max(r for f in res['stored_pan_files'].values() for _, r in f)})"
                 if res["stored_pan_files"] else ""))
        if res["echo"][1]:
            print(f"   echo of a span audible on the other leg: {res['echo'][0]} / {res['echo'][1]}")
        print(f"   over-redaction plain speech (no numbers): {pct(*res['over_plain'])} of {res['over_plain'][1]} frames; "
              f"all non-sensitive speech: {pct(*res['over_all'])} of {res['over_all'][1]} frames")
        for name, key, total in (("plain", "over_plain_by_rule", res["over_plain"][1]),
                                 ("all", "over_all_by_rule", res["over_all"][1])):
            parts = sorted(res[key].items(), key=lambda kv: -kv[1])
            print(f"     {name} muted by rule: " + ", ".join(f"{r} {pct(n, total)}" for r, n in parts))
        print(f"   distractors mostly muted: {res['distractors'][0]} / {res['distractors'][1]}")
        print(f"   WER, utterances without numbers: agent {pct(*res['wer']['agent'])} ({res['wer']['agent'][1]} words), "
              f"customer {pct(*res['wer']['customer'])} ({res['wer']['customer'][1]} words)")
        print(f"\n   {'breakdown':34s} {'spans':>5s} {'audible':>8s} {'text':>6s} {'any':>6s}")
        order = sorted(by.items(), key=lambda kv: (not kv[0].startswith("ALL"), not kv[0].startswith("kind"), kv[0]))
        for k, v in order:
            print(f"   {k:34s} {v[0]:5d} {v[1]:8d} {v[2]:6d} {v[3]:6d}")
        if res["plain_muted_utts"]:
            print(f"\n   plain utterances (no numbers) > 30 % muted: {len(res['plain_muted_utts'])}, e.g.")
            for u in res["plain_muted_utts"][:8]:
                print(f"     {u['call']} {u['start']:6.1f} {u['speaker']:8s} {u['muted_frac']:.0%}  {u['text']}")
    if args.live or args.live_only:
        lv = live(args, calls, cwd)
        sp = lv["spans"]
        by = breakdown(sp, [lambda s: s["live_leak"]])
        tot = lambda k: sum(c[k] for c in lv["calls"].values())
        out["live"] = {"calls": lv["calls"], "spans": sp, "log_dir": lv["log_dir"],
                       "sensitive_spans": len(sp), "spans_leaked": sum(bool(s["live_leak"]) for s in sp),
                       "pan_leaks": tot("pan_leaks"), "cvv_leaks": tot("cvv_leaks"), "expiry_leaks": tot("expiry_leaks"),
                       "transcript_events": tot("transcript_events"), "events_with_digits": tot("events_with_digits"),
                       "digit_tokens": tot("digit_tokens"),
                       "breakdown": {k: {"n": v[0], "leak": v[1]} for k, v in sorted(by.items())},
                       "stored": {k: v for k, v in (lv["stored"] or {}).items() if k not in ("spans",)}}
        L = out["live"]
        print(f"\n== live: {len(lv['calls'])} calls replayed at {args.live_speed}x (logs in {lv['log_dir']})")
        print(f"   sensitive spans with digits in live events: {L['spans_leaked']} / {L['sensitive_spans']} "
              f"(PAN {L['pan_leaks']}, CVV {L['cvv_leaks']}, expiry {L['expiry_leaks']})")
        print(f"   transcript events with any digit or digit word: {L['events_with_digits']} / {L['transcript_events']} "
              f"({L['digit_tokens']} digit tokens)")
        if lv["stored"]:
            st = lv["stored"]
            print(f"   stored by serve: audible spans {sum(s['audible'] for s in st['spans'])} / {len(st['spans'])}, "
                  f"calls with PAN digits in files {len(st['stored_pan_files'])}")
        for k, v in sorted(by.items(), key=lambda kv: (not kv[0].startswith("ALL"), kv[0])):
            print(f"   {k:34s} {v[0]:5d} {v[1]:6d}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
