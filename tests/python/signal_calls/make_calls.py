#!/usr/bin/env python3
"""Generate synthetic stereo contact-centre calls with backchannels, interruptions,
echo and babble, plus ground truth in the dev-corpus truth.json schema (+ extra fields).

Usage:  python make_calls.py [--seed 4242] [--n 16] [--jobs 2] [--out DIR]
Writes <out>/tune/sig-tune-NNN.{wav,truth.json} and <out>/test/sig-test-NNN.{wav,truth.json}.
Channel 0 = agent, channel 1 = customer, 8 kHz, PCM16.
"""
import argparse, hashlib, json, os, subprocess, sys, tempfile, wave
from multiprocessing import Pool

import numpy as np
from scipy.signal import butter, sosfiltfilt, lfilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pools as P

SR = 8000
FRAME = 160  # 20 ms
CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
VAD_DB, BRIDGE_S, MIN_SPAN_S, SIL_MIN_S = -40.0, 0.3, 0.1, 2.0
BP = butter(4, [300, 3400], btype="band", fs=SR, output="sos")
GEN_VERSION = "sig-1.0"

# ---------------------------------------------------------------- voices
VOICES = [  # (engine, voice, gender)
    ("espeak", "en-us", "m"), ("espeak", "en-gb", "m"), ("espeak", "en-us+f3", "f"),
    ("espeak", "en-gb+f2", "f"), ("espeak", "en-us+m3", "m"), ("espeak", "en-us+f4", "f"),
    ("espeak", "en-gb+m5", "m"), ("espeak", "en-gb+f5", "f"), ("espeak", "en-us+f1", "f"),
    ("flite", "slt", "f"), ("flite", "rms", "m"), ("flite", "awb", "m"), ("flite", "kal16", "m"),
]


def pick_voice(rng, exclude=()):
    cands = [v for v in VOICES if v[1] not in exclude]
    e, v, g = cands[rng.integers(len(cands))]
    d = {"engine": "espeak-ng" if e == "espeak" else "flite", "voice": v, "gender": g}
    if e == "espeak":
        d["rate_wpm"] = int(rng.integers(140, 201))
        d["pitch"] = int(rng.integers(35, 66))
    else:
        d["duration_stretch"] = round(float(rng.uniform(0.85, 1.12)), 2)
    return d


def read_wav(path):
    with wave.open(path) as w:
        n, sr, ch = w.getnframes(), w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float64) / 32768.0
    return x.reshape(-1, ch), sr


def tts(text, voice, speed=1.0):
    """Synthesize text with voice at relative speed; returns float64 mono at 8 kHz (cached)."""
    key = json.dumps([text, voice["engine"], voice["voice"], voice.get("rate_wpm"), voice.get("pitch"),
                      voice.get("duration_stretch"), round(speed, 3)])
    h = hashlib.sha1(key.encode()).hexdigest()
    out = os.path.join(CACHE, h + ".wav")
    if not os.path.exists(out):
        os.makedirs(CACHE, exist_ok=True)
        with tempfile.TemporaryDirectory() as td:
            raw = os.path.join(td, "raw.wav")
            if voice["engine"] == "espeak-ng":
                cmd = ["espeak-ng", "-v", voice["voice"], "-s", str(int(round(voice["rate_wpm"] * speed))),
                       "-p", str(voice["pitch"]), "-w", raw, text]
            else:
                cmd = ["flite", "-voice", voice["voice"], "--setf",
                       "duration_stretch=%.3f" % (voice["duration_stretch"] / speed), "-t", text, "-o", raw]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tmp = out + ".%d.tmp.wav" % os.getpid()
            subprocess.run(["sox", "-v", "0.5", raw, "-r", str(SR), "-c", "1", "-b", "16", tmp], check=True)
            os.replace(tmp, out)
    x, sr = read_wav(out)
    assert sr == SR
    return x[:, 0].copy()


def frame_db(x):
    n = len(x) // FRAME
    f = x[: n * FRAME].reshape(n, FRAME)
    return 10 * np.log10(np.mean(f ** 2, axis=1) + 1e-20)


def active_level(x):
    db = frame_db(x)
    if len(db) == 0:
        return -100.0
    act = db > max(db.max() - 25, -70)
    return 10 * np.log10(np.mean(10 ** (db[act] / 10)))


def prep(x, level_db):
    """band-limit, normalise to active level, trim to audible extent."""
    pad = np.zeros(400)
    y = sosfiltfilt(BP, np.concatenate([pad, x, pad]))
    y *= 10 ** ((level_db - active_level(y)) / 20)
    # soft peak limiter (rare TTS/hum peaks): |y| <= 0.8 always
    lim = 0.45
    o = np.abs(y) > lim
    y[o] = np.sign(y[o]) * (lim + 0.35 * np.tanh((np.abs(y[o]) - lim) / 0.35))
    # trim: 5 ms windows with RMS above max(-60 dBFS, peak - 45 dB)
    w = 40
    n = len(y) // w
    db = 10 * np.log10(np.mean(y[: n * w].reshape(n, w) ** 2, axis=1) + 1e-20)
    on = np.where(db > max(-60.0, db.max() - 45))[0]
    y = y[on[0] * w: (on[-1] + 1) * w].copy()
    fade = 40
    y[:fade] *= np.linspace(0, 1, fade)
    y[-fade:] *= np.linspace(1, 0, fade)
    return y


def hum(rng, two):
    """synthetic 'mm' / 'mm-hm': glottal-like buzz 120-220 Hz through nasal formants."""
    f0 = rng.uniform(120, 220)
    segs = [rng.uniform(0.16, 0.24), rng.uniform(0.14, 0.2)] if two else [rng.uniform(0.2, 0.45)]
    out = []
    for i, d in enumerate(segs):
        n = int(d * SR)
        contour = f0 * (np.linspace(1.0, 0.92, n) if i == 0 else np.linspace(0.95, 1.15, n))
        ph = np.cumsum(contour / SR)
        # harmonic-rich source (sawtooth-like with spectral tilt)
        src = np.zeros(n)
        for k in range(1, int(3600 / f0)):
            src += np.sin(2 * np.pi * k * ph) / k ** 1.3
        y = np.zeros(n)
        for fc, bw, g in [(270, 90, 1.0), (1150, 180, 0.35), (2400, 250, 0.2)]:
            r = np.exp(-np.pi * bw / SR)
            a = [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r]
            y += g * lfilter([1 - r], a, src)
        env = np.ones(n)
        a_, r_ = int(0.03 * SR), int(0.06 * SR)
        env[:a_] = np.linspace(0, 1, a_)
        env[-r_:] = np.linspace(1, 0, r_)
        out.append(y * env)
        if i == 0 and two:
            out.append(np.zeros(int(rng.uniform(0.04, 0.07) * SR)))
    return np.concatenate(out)


# ---------------------------------------------------------------- VAD / spans
def vad_spans(x):
    """README rule: 20 ms frames RMS > -40 dBFS, gaps < 0.3 s bridged, spans < 0.1 s dropped."""
    v = frame_db(x) > VAD_DB
    spans, i, n = [], 0, len(v)
    while i < n:
        if v[i]:
            j = i
            while j < n and v[j]:
                j += 1
            spans.append([i, j])
            i = j
        else:
            i += 1
    merged = []
    for s in spans:
        if merged and (s[0] - merged[-1][1]) * 0.02 < BRIDGE_S - 1e-9:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    return [[round(a * 0.02, 2), round(b * 0.02, 2)] for a, b in merged if (b - a) * 0.02 >= MIN_SPAN_S - 1e-9]


def span_at(spans, t):
    for s in spans:
        if s[0] <= t < s[1]:
            return s
    return None


def inter_len(a, b, lo=-1e9, hi=1e9):
    tot = 0.0
    for s in a:
        for u in b:
            x0, x1 = max(s[0], u[0], lo), min(s[1], u[1], hi)
            if x1 > x0:
                tot += x1 - x0
    return tot


# ---------------------------------------------------------------- text helpers
DIG = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digit_words(rng, n):
    ds = [int(rng.integers(1, 10))] + [int(rng.integers(0, 10)) for _ in range(n - 1)]
    oh = rng.random() < 0.4
    words = [("oh" if (d == 0 and oh) else DIG[d]) for d in ds]
    g = 3 if n % 3 == 0 else 4
    groups = [" ".join(words[i:i + g]) for i in range(0, n, g)]
    return ", ".join(groups), "".join(map(str, ds))


def nwords(text):
    return len(text.split())


# ---------------------------------------------------------------- conversation plan
def build_plan(rng, split, nb, ctx):
    S = lambda lst: P.split_pool(lst, split)
    ch = lambda lst: lst[int(rng.integers(len(lst)))]
    fmt = lambda s: s.format(**ctx)
    items = []

    def add(spk, slot, text, tags=(), cand=False, **kw):
        items.append(dict(spk=spk, slot=slot, text=text, tags=list(tags), cand=cand, **kw))

    add("agent", "greet", fmt(ch(S(P.GREET))), ["greeting"])
    add("customer", "cust_open", fmt(ch(S(P.CUST_OPEN))), cand=True)
    add("agent", "ask_order", fmt(ch(S(P.ASK_ORDER))))
    add("customer", "order_read", fmt(ch(S(P.ORDER_READ))), ["order_number"])
    add("agent", "confirm_order", fmt(ch(S(P.CONFIRM_ORDER))), cand=True)
    if rng.random() < 0.6:
        add("customer", "cust_yes", ch(S(P.CUST_YES)))
    add("customer", "problem", ch(S(P.PROBLEM[ctx["category"]])), ["complaint"], cand=True, same_turn=False)
    apologised = rng.random() < 0.75
    if apologised:
        add("agent", "apology", ch(S(P.APOLOGY)), ["apology"])
    used = set()
    hold_at = int(rng.integers(0, nb)) if (ctx["hold"] == 2 and nb > 0) else -1
    for b in range(nb):
        kind = ["detail", "explain", "question"][(b + int(ctx["rot"])) % 3]
        if b == hold_at:
            add("agent", "hold_start", ch(S(P.HOLD_START)), ["hold_start"], hold_gap=ctx["hold_s"][0])
            add("agent", "hold_end", ch(S(P.HOLD_END)), ["hold_end"])
        if kind == "detail":
            i = int(rng.integers(len(S(P.ASK_DETAIL))))
            add("agent", "ask_detail", S(P.ASK_DETAIL)[i])
            pool = [x for x in S(P.CUST_DETAIL) if x not in used]
            t = ch(pool); used.add(t)
            add("customer", "cust_detail", t, cand=True)
        elif kind == "explain":
            pool = [x for x in S(P.EXPLAIN) if x not in used]
            t = ch(pool); used.add(t)
            add("agent", "explain", t, cand=True)
            add("customer", "cust_ack", ch(S(P.CUST_ACK)))
        else:
            pool = [x for x in S(P.CUST_QUESTION) if x not in used]
            t = ch(pool); used.add(t)
            add("customer", "cust_question", t)
            pool = [x for x in S(P.ANSWER) if x not in used]
            t = ch(pool); used.add(t)
            add("agent", "answer", t, cand=True)
    if ctx["hold"] >= 1:
        add("agent", "hold_start", ch(S(P.HOLD_START)), ["hold_start"], hold_gap=ctx["hold_s"][1])
        add("agent", "hold_end", ch(S(P.HOLD_END)), ["hold_end"])
    add("agent", "resolution", fmt(ch(S(P.RESOLUTION))), ["resolution", "reference_number"], cand=True)
    add("customer", "cust_thanks", ch(S(P.CUST_THANKS)))
    if rng.random() < 0.6:
        add("agent", "anything_else", ch(S(P.ANYTHING_ELSE)))
        add("customer", "cust_no", ch(S(P.CUST_NO)))
    add("agent", "closing", fmt(ch(S(P.CLOSING))), ["closing"])
    add("customer", "cust_bye", ch(S(P.CUST_BYE)))

    # interruptions
    cands = [i for i, it in enumerate(items) if it["cand"]]
    k = min(ctx["n_int"], len(cands))
    chosen = sorted(rng.choice(cands, size=k, replace=False).tolist())
    out = []
    for i, it in enumerate(items):
        out.append(it)
        if i in chosen:
            it["interrupted"] = True
            a, b = it["spk"], ("customer" if it["spk"] == "agent" else "agent")
            out.append(dict(spk=b, slot="interjection", text=ch(S(P.INTERJECT[b])), tags=["interruption"],
                            cand=False, interjection=True))
            out.append(dict(spk=a, slot="resume", text=ch(S(P.RESUME[a])), tags=[], cand=False))
    return out, apologised


# ---------------------------------------------------------------- one call
class Retry(Exception):
    pass


def render_call(split, idx, seed, attempt, nb):
    rng = np.random.default_rng([seed, attempt])
    S = lambda lst: P.split_pool(lst, split)
    ch = lambda lst: lst[int(rng.integers(len(lst)))]
    av = pick_voice(rng)
    cv = pick_voice(rng, exclude=(av["voice"],))
    lv = {"agent": round(float(rng.uniform(-25, -19)), 1), "customer": round(float(rng.uniform(-25, -19)), 1)}
    voices = {"agent": av, "customer": cv}
    order_text, order_digits = digit_words(rng, int(rng.choice([8, 9, 10])))
    ref_text, ref_digits = digit_words(rng, int(rng.choice([6, 8])))
    cat = ch(list(P.PROBLEM.keys()))
    hold = int(rng.choice([0, 0, 1, 1, 2], p=[0.3, 0.2, 0.25, 0.15, 0.1]))
    ctx = dict(company=ch(S(P.COMPANIES)), aname=ch(S(P.AGENT_NAMES)), cname=ch(S(P.CUST_NAMES)),
               item=ch(S(P.ITEMS)), date=ch(S(P.DATES)), amount=ch(S(P.AMOUNTS)), digits=order_text,
               ref=ref_text, category=cat, hold=hold, hold_s=[float(rng.uniform(2.6, 5.5)) for _ in range(2)],
               n_int=int(rng.integers(1, 5)), rot=int(rng.integers(3)))
    plan, apologised = build_plan(rng, split, nb, ctx)

    # ---- place utterances
    placed = []  # dict(spk, start_sample, audio, text, ...)
    t_end = int(rng.uniform(0.3, 0.9) * SR)
    pending_gap = None
    interrupts = []
    for it in plan:
        spk = it["spk"]
        speed = float(rng.uniform(0.93, 1.08))
        if rng.random() < 0.12:
            speed = float(rng.choice([0.82, 1.2]))
        text = it["text"]
        if it.get("interrupted"):
            words = text.split()
            k = max(5, int(round(len(words) * rng.uniform(0.45, 0.8))))
            text = " ".join(words[:k]).rstrip(",.;?!")
        audio = prep(tts(text, voices[spk], speed), lv[spk])
        if it.get("interjection"):
            prev = placed[-1]
            a = prev["audio"]
            v = frame_db(a) > VAD_DB
            nf = len(v)
            last = np.where(v)[0][-1] + 1
            ok = [j for j in range(nf - 1) if v[j] and v[j + 1] and j * 0.02 >= 1.0
                  and 0.35 <= (last - j) * 0.02 <= 1.4 and v[j:last].mean() >= 0.6]
            if not ok:
                raise Retry("no interruption point")
            j = ok[int(rng.integers(len(ok)))]
            start = prev["start"] + j * FRAME
            if len(audio) < 1.5 * SR:
                raise Retry("short interjection")
            interrupts.append(dict(by=spk, of=prev["spk"], t=start / SR, a_idx=len(placed) - 1, b_idx=len(placed)))
        else:
            gap = pending_gap if pending_gap else 0.2 + 1.3 * rng.beta(1.4, 3.0)
            pending_gap = None
            start = t_end + int(round(gap * SR / FRAME)) * FRAME
            start = (start // FRAME) * FRAME
        placed.append(dict(spk=spk, start=start, audio=audio, text=text, speed=round(speed, 2),
                           tags=it["tags"], slot=it["slot"]))
        t_end = max(t_end, start + len(audio))
        if it.get("hold_gap"):
            pending_gap = it["hold_gap"]
    dur_n = t_end + int(rng.uniform(0.5, 1.3) * SR)
    dur = dur_n / SR
    if dur < 50:
        raise Retry("short:%.1f" % dur)
    if dur > 90:
        raise Retry("long:%.1f" % dur)

    def mix(spk, items):
        x = np.zeros(dur_n)
        for p in items:
            if p["spk"] == spk:
                x[p["start"]: p["start"] + len(p["audio"])] += p["audio"]
        return x

    clean = {s: mix(s, placed) for s in ("agent", "customer")}
    spans = {s: vad_spans(clean[s]) for s in clean}

    # ---- backchannels
    n_bc = int(rng.integers(4, 11))
    n_cust = max(1, int(round(n_bc * rng.uniform(0.15, 0.35))))
    bys = ["customer"] * n_cust + ["agent"] * (n_bc - n_cust)
    rng.shuffle(bys)
    no_go = []  # interruption windows
    for ir in interrupts:
        a = placed[ir["a_idx"]]
        bq = placed[ir["b_idx"]]
        no_go.append((ir["t"] - 1.5, max(a["start"] + len(a["audio"]), bq["start"] + len(bq["audio"])) / SR + 1.0))
    bcs = []
    used_spans = []
    for by in bys:
        of = "customer" if by == "agent" else "agent"
        tok_text, tok_tts = ch(P.BACKCHANNEL[by])
        if tok_tts is None:
            a = hum(rng, two=(tok_text == "mm-hm"))
            a = prep(a, lv[by] - float(rng.uniform(0, 4)))
        else:
            sp = float(rng.uniform(1.0, 1.25))
            a = prep(tts(tok_tts, voices[by], sp), lv[by] - float(rng.uniform(0, 4)))
            if len(a) > 0.8 * SR:
                a = prep(tts(tok_tts, voices[by], sp * 1.4), lv[by] - float(rng.uniform(0, 4)))
            if len(a) > 0.78 * SR:
                a = a[: int(0.78 * SR)]
                a[-80:] *= np.linspace(1, 0, 80)
        L = len(a) / SR
        if L < 0.15:
            continue
        own = spans[by] + [[b["t"], b["end"]] for b in bcs if b["by"] == by]
        cand = []
        for s in spans[of]:
            lo, hi = s[0] + 0.3, s[1] - 0.9 - L
            if hi <= lo:
                continue
            for t in np.arange(lo, hi, 0.02):
                t0, t1 = t, t + L
                if any(o[0] - 1.5 < t1 and t0 < o[1] + 1.5 for o in own):
                    continue
                if any(w0 < t1 and t0 < w1 for w0, w1 in no_go):
                    continue
                if any(o[0] - 1.0 < t1 and t0 < o[1] + 1.0 for o in [[b["t"], b["end"]] for b in bcs]):
                    continue
                cand.append((round(t, 2), tuple(s)))
        if not cand:
            continue
        fresh = [c for c in cand if c[1] not in used_spans]
        pool = fresh if fresh else cand
        t, s = pool[int(rng.integers(len(pool)))]
        used_spans.append(s)
        st = int(round(t * SR / FRAME)) * FRAME
        bcs.append(dict(t=st / SR, end=(st + len(a)) / SR, by=by, of=of, text=tok_text, audio=a, start=st))
    # add backchannels to clean channels and verify
    for b in bcs:
        clean[b["by"]][b["start"]: b["start"] + len(b["audio"])] += b["audio"]
    spans = {s: vad_spans(clean[s]) for s in clean}
    good = []
    for b in bcs:
        host = [s for s in spans[b["of"]] if s[0] <= b["t"] and b["end"] <= s[1]]
        mine = [s for s in spans[b["by"]] if s[1] > b["t"] - 0.05 and s[0] < b["end"] + 0.05]
        ok = host and host[0][1] - b["end"] >= 0.8 and len(mine) == 1 and \
            mine[0][0] >= b["t"] - 0.03 and mine[0][1] <= b["end"] + 0.03
        if ok:
            good.append(b)
        else:  # remove it
            clean[b["by"]][b["start"]: b["start"] + len(b["audio"])] -= b["audio"]
    if len(good) < 4:
        raise Retry("backchannels:%d" % len(good))
    bcs = good
    spans = {s: vad_spans(clean[s]) for s in clean}

    # ---- interruptions truth
    ints = []
    for ir in interrupts:
        A, B = placed[ir["a_idx"]], placed[ir["b_idx"]]
        a_end = (A["start"] + len(A["audio"])) / SR
        sa = span_at(spans[ir["of"]], ir["t"] + 0.01)
        sb = [s for s in spans[ir["by"]] if ir["t"] - 0.03 <= s[0] <= ir["t"] + 0.2]
        if sa is None:
            raise Retry("interrupt: interrupted not voiced")
        if not sb:
            raise Retry("interrupt: interrupter not voiced")
        stop = sa[1] - ir["t"]
        if not (0.3 <= stop <= 1.5):
            raise Retry("stop %.2f" % stop)
        # interrupter had not been talking within 1 s before
        prevb = [s for s in spans[ir["by"]] if s[1] <= ir["t"] and s[1] > ir["t"] - 1.0]
        if prevb:
            raise Retry("interrupter continuing")
        ov = inter_len(spans[ir["of"]], spans[ir["by"]], ir["t"] - 0.02, a_end + 0.02)
        if ov < 0.3:
            raise Retry("overlap %.2f" % ov)
        ints.append(dict(t=round(ir["t"], 3), by=ir["by"], of=ir["of"], overlap_s=round(ov, 3),
                         utterance=None, _b=ir["b_idx"], _a=ir["a_idx"], stop_after_s=round(stop, 2)))

    # ---- utterance list (sorted by start), backchannels included
    U = []
    for i, p in enumerate(placed):
        U.append(dict(_k=("p", i), speaker=p["spk"], start=p["start"] / SR, end=(p["start"] + len(p["audio"])) / SR,
                      text=p["text"], speed=p["speed"], words=nwords(p["text"]), sensitive=False,
                      tags=list(p["tags"]) + (["interrupted"] if p is not None and any(ir["a_idx"] == i for ir in interrupts) else []),
                      backchannel=False))
    for j, b in enumerate(bcs):
        U.append(dict(_k=("b", j), speaker=b["by"], start=b["t"], end=b["end"], text=b["text"], speed=1.0,
                      words=nwords(b["text"]), sensitive=False, tags=["backchannel"], backchannel=True))
    U.sort(key=lambda u: u["start"])
    kmap = {}
    for n, u in enumerate(U):
        kmap[u.pop("_k")] = n
        u["start"], u["end"] = round(u["start"], 4), round(u["end"], 4)
    utts = [dict(id=n, **u) for n, u in enumerate(U)]
    for it in ints:
        it["utterance"] = kmap[("p", it.pop("_b"))]
        it["interrupted_utterance"] = kmap[("p", it.pop("_a"))]
    bc_out = [dict(t=round(b["t"], 3), end=round(b["end"], 3), by=b["by"], of=b["of"], text=b["text"],
                   utterance=kmap[("b", j)], kind="hum" if b["text"] in ("mm", "mm-hm") else "tts")
              for j, b in enumerate(bcs)]

    # ---- silences (union of both clean channels)
    allsp = sorted(spans["agent"] + spans["customer"])
    sil, cur = [], 0.0
    for s in allsp:
        if s[0] - cur >= SIL_MIN_S:
            sil.append(dict(start=round(cur, 2), end=round(s[0], 2), duration_s=round(s[0] - cur, 2)))
        cur = max(cur, s[1])
    if dur - cur >= SIL_MIN_S:
        sil.append(dict(start=round(cur, 2), end=round(dur, 2), duration_s=round(dur - cur, 2)))

    spk_out = {}
    for s in ("agent", "customer"):
        tt = round(sum(b - a for a, b in spans[s]), 2)
        w = sum(u["words"] for u in utts if u["speaker"] == s)
        ut = round(sum(u["end"] - u["start"] for u in utts if u["speaker"] == s), 3)
        spk_out[s] = dict(talk_time_s=tt, words=w, wpm=round(w / (tt / 60), 2), utterance_time_s=ut,
                          wpm_utterance_time=round(w / (ut / 60), 2), voiced_spans=spans[s])
    return dict(rng=rng, dur_n=dur_n, clean=clean, voices=voices, lv=lv, utts=utts, ints=ints, bcs=bc_out,
                sil=sil, spk=spk_out, ctx=ctx, apologised=apologised, order=(order_text, order_digits),
                ref=(ref_text, ref_digits), placed=placed)


def make_babble(rng, split, n, talkers, level_dbfs):
    streams = []
    for v in talkers:
        x = np.zeros(n + 2 * SR)
        pos = int(rng.uniform(0, 1.0) * SR)
        sents = P.split_pool(P.BABBLE, split)
        while pos < len(x):
            a = prep(tts(sents[int(rng.integers(len(sents)))], v, float(rng.uniform(0.95, 1.1))), -30.0)
            e = min(len(x), pos + len(a))
            x[pos:e] += a[: e - pos]
            pos = e + int(rng.uniform(0.1, 0.5) * SR)
        off = int(rng.uniform(0, 2 * SR))
        streams.append(x[off: off + n])
    b = np.sum(streams, axis=0)
    rms = 10 * np.log10(np.mean(b ** 2))
    return b * 10 ** ((level_dbfs - rms) / 20)


def make_one(args):
    split, idx, seed, cond, out_dir = args
    call_id = "sig-%s-%03d" % (split, idx)
    res, why = None, []
    nb = 0
    for attempt in range(60):
        try:
            res = render_call(split, idx, seed, attempt, nb)
            break
        except Retry as e:
            why.append(str(e))
            if str(e).startswith("short"):
                nb = min(nb + 1, 7)
            elif str(e).startswith("long"):
                nb = max(nb - 1, 0)
    if res is None:
        raise RuntimeError("%s failed: %s" % (call_id, why))
    rng = np.random.default_rng([seed, 99])
    clean, n = res["clean"], res["dur_n"]
    mixed = {s: clean[s].copy() for s in clean}
    conditions = {"type": cond["type"], "echo": None, "babble": None}
    if cond.get("echo"):
        e = cond["echo"]
        src = "customer" if e["leg"] == "agent" else "agent"
        d = int(round(e["delay_ms"] * SR / 1000))
        y = np.zeros(n)
        y[d:] = clean[src][: n - d] * 10 ** (e["level_db"] / 20)
        if e.get("lowpass_hz"):
            y = sosfiltfilt(butter(2, e["lowpass_hz"], btype="low", fs=SR, output="sos"), y)
        mixed[e["leg"]] += y
        conditions["echo"] = dict(leg=e["leg"], source=src, level_db=e["level_db"], delay_ms=e["delay_ms"],
                                  lowpass_hz=e.get("lowpass_hz"),
                                  note="copy of the source party's clean signal, attenuated by level_db relative to it and delayed")
    if cond.get("babble"):
        bb = cond["babble"]
        talkers = []
        excl = [res["voices"]["agent"]["voice"], res["voices"]["customer"]["voice"]]
        for _ in range(bb["talkers"]):
            v = pick_voice(rng, exclude=excl)
            excl.append(v["voice"])
            talkers.append(v)
        lvl = res["lv"]["agent"] + bb["level_db"]
        mixed["agent"] += make_babble(rng, split, n, talkers, lvl)
        conditions["babble"] = dict(leg="agent", level_db=bb["level_db"], level_dbfs=round(lvl, 1),
                                    talkers=bb["talkers"], voices=talkers,
                                    note="continuous background talk, RMS level_db relative to the agent's active speech level")
    noise_db = round(float(rng.uniform(-62, -58)), 1)
    for s in mixed:
        nz = sosfiltfilt(BP, rng.standard_normal(n))
        nz *= 10 ** ((noise_db - 10 * np.log10(np.mean(nz ** 2))) / 20)
        mixed[s] += nz
    st = np.stack([mixed["agent"], mixed["customer"]], axis=1)
    peak = np.abs(st).max()
    if peak > 0.99:
        raise RuntimeError("%s clips (%.2f)" % (call_id, peak))
    pcm = np.round(st * 32767).astype("<i2")
    os.makedirs(out_dir, exist_ok=True)
    wav_name = call_id + ".wav"
    with wave.open(os.path.join(out_dir, wav_name), "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(SR)
        w.writeframes(pcm.tobytes())

    utts = res["utts"]
    events = []
    for u in utts:
        for tg, kind in [("complaint", "complaint"), ("apology", "apology"), ("hold_start", "hold_start"),
                         ("hold_end", "hold_end"), ("resolution", "resolution")]:
            if tg in u["tags"]:
                events.append(dict(kind=kind, t=u["start"] if kind != "hold_start" else u["end"],
                                   speaker=u["speaker"], utterance=u["id"]))
    dist = []
    for u in utts:
        if "order_number" in u["tags"]:
            dist.append(dict(kind="order_number", text=res["order"][0].replace(",", ""), digits=res["order"][1],
                             speaker="customer", utterance=u["id"]))
        if "reference_number" in u["tags"] and res["ref"][0] in u["text"]:
            dist.append(dict(kind="reference_number", text=res["ref"][0].replace(",", ""), digits=res["ref"][1],
                             speaker="agent", utterance=u["id"]))
    truth = {
        "schema": "call-truth/1", "call_id": call_id, "set": split, "seed": seed, "phrase_bank": split,
        "duration_s": round(n / SR, 3), "sample_rate": SR, "channels": {"0": "agent", "1": "customer"},
        "files": {"pcm16": wav_name},
        "voices": res["voices"],
        "levels_dbfs": {"agent_active": res["lv"]["agent"], "customer_active": res["lv"]["customer"],
                        "noise_rms": noise_db},
        "complaint_category": res["ctx"]["category"], "agent_apologised": res["apologised"],
        "escalation_requested": False, "cancellation_threatened": False,
        "payment": {"payment_mode": "none"},
        "utterances": utts, "sensitive": [], "allowed": [],
        "interruptions": res["ints"], "backchannels": res["bcs"], "silences": res["sil"],
        "speakers": res["spk"], "events": events, "distractors": dist, "conditions": conditions,
        "measurement": {"frame_ms": 20, "vad_threshold_dbfs": VAD_DB, "vad_bridge_s": BRIDGE_S,
                        "vad_min_span_s": MIN_SPAN_S, "silence_min_s": SIL_MIN_S,
                        "talk_time": "energy VAD on the speaker's OWN clean signal (before echo, babble and noise); backchannels included",
                        "silences": "gaps >= 2 s in the union of both speakers' clean voiced spans (babble/echo ignored)",
                        "wpm": "words / (talk_time_s / 60)",
                        "utterance_extent": "start/end = audible extent of the rendered TTS audio",
                        "overlap_s": "intersection of both speakers' clean voiced spans from t to the end of the interrupted utterance"},
        "generator": {"version": GEN_VERSION, "script": "make_calls.py"},
    }
    with open(os.path.join(out_dir, call_id + ".truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    return call_id, round(n / SR, 1), len(res["bcs"]), len(res["ints"]), cond["type"], len(why)


def conditions_for(split, rng):
    n_echo_c = 1 if split == "tune" else 2
    types = ["clean"] * 4 + ["echo"] * 5 + ["babble"] * 5 + ["echo+babble"] * 2
    rng.shuffle(types)
    echo_legs = ["customer"] * n_echo_c + ["agent"] * (5 - n_echo_c)
    rng.shuffle(echo_legs)
    levels = [-15, -20, -25]
    out, ei, li = [], 0, int(rng.integers(3))
    for t in types:
        c = {"type": t}
        if "echo" in t:
            leg = echo_legs[ei] if t == "echo" else "agent"
            if t == "echo":
                ei += 1
            c["echo"] = dict(leg=leg, level_db=levels[li % 3], delay_ms=int(rng.integers(20, 121)),
                             lowpass_hz=(int(rng.integers(24, 33)) * 100 if rng.random() < 0.5 else None))
            li += 1
        if "babble" in t:
            c["babble"] = dict(level_db=round(float(rng.uniform(-30, -22)), 1), talkers=int(rng.integers(2, 5)))
        out.append(c)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--splits", default="tune,test")
    a = ap.parse_args()
    jobs = []
    for si, split in enumerate(a.splits.split(",")):
        base = a.seed * 100 + (1 if split == "tune" else 2) * 10000
        conds = conditions_for(split, np.random.default_rng([a.seed, 1 if split == "tune" else 2]))
        for i in range(a.n):
            jobs.append((split, i + 1, base + i + 1, conds[i], os.path.join(a.out, split)))
    with Pool(a.jobs) as pool:
        for r in pool.imap(make_one, jobs):
            print("%s dur=%.1f bc=%d int=%d cond=%s retries=%d" % r, flush=True)


if __name__ == "__main__":
    main()
