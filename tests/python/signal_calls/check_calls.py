#!/usr/bin/env python3
"""Numerical sanity checks of the generated calls (no listening possible).

For every call: header/duration, active levels of each channel, backchannels inside the other
speaker's voiced spans (>= 0.8 s continuation) and forming their own span, interruptions (interrupted
speaker stops 0.3-1.5 s after t, interrupter talks >= 1.5 s), echo level/delay by cross-correlation,
babble level in gaps, silences, words/wpm arithmetic.  Prints one line per call and a summary.
"""
import glob, json, os, sys, wave
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_calls import vad_spans, frame_db, SR

root = os.path.dirname(os.path.abspath(__file__))


def load(path):
    with wave.open(path) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float) / 32768
    return x.reshape(-1, 2)


def mask(spans, n, pad=0.0):
    m = np.zeros(n, bool)
    for a, b in spans:
        m[max(0, int((a - pad) * SR)): int((b + pad) * SR)] = True
    return m


def main():
    problems, tot = [], {}
    for split in ("tune", "test"):
        for tp in sorted(glob.glob(os.path.join(root, split, "*.truth.json"))):
            T = json.load(open(tp))
            cid = T["call_id"]
            x = load(os.path.join(root, split, T["files"]["pcm16"]))
            n = len(x)
            err = []
            if abs(n / SR - T["duration_s"]) > 0.01 or not (50 <= T["duration_s"] <= 90):
                err.append("duration")
            sp = {s: T["speakers"][s]["voiced_spans"] for s in ("agent", "customer")}
            ch = {"agent": x[:, 0], "customer": x[:, 1]}
            # active level on own voiced spans where the other party is silent
            lev = {}
            for i, s in enumerate(("agent", "customer")):
                o = "customer" if s == "agent" else "agent"
                m = mask(sp[s], n) & ~mask(sp[o], n, 0.2)
                lev[s] = 10 * np.log10(np.mean(ch[s][m] ** 2))
                if not (-27 <= lev[s] <= -17):
                    err.append("level %s %.1f" % (s, lev[s]))
            quiet = ~mask(sp["agent"], n, 0.3) & ~mask(sp["customer"], n, 0.3)
            # backchannels
            rend = {s: vad_spans(ch[s]) for s in ch}
            for b in T["backchannels"]:
                host = [h for h in sp[b["of"]] if h[0] <= b["t"] and b["end"] <= h[1]]
                if not host or host[0][1] - b["end"] < 0.8 - 1e-6:
                    err.append("bc host %.2f" % b["t"])
                if not (0.15 <= b["end"] - b["t"] <= 0.8):
                    err.append("bc len %.2f" % (b["end"] - b["t"]))
                own = [h for h in sp[b["by"]] if h[1] > b["t"] - 0.05 and h[0] < b["end"] + 0.05]
                if len(own) != 1:
                    err.append("bc own span %.2f" % b["t"])
            # interruptions
            for it in T["interruptions"]:
                a = [h for h in sp[it["of"]] if h[0] <= it["t"] + 0.01 < h[1]]
                if not a or not (0.3 <= a[0][1] - it["t"] <= 1.5):
                    err.append("int stop %.2f" % it["t"])
                u = T["utterances"][it["utterance"]]
                if u["speaker"] != it["by"] or u["end"] - u["start"] < 1.5 or abs(u["start"] - it["t"]) > 0.01:
                    err.append("int utt %.2f" % it["t"])
                after = [h for h in sp[it["of"]] if it["t"] + 1.6 < h[0] < u["end"]]
                if after:
                    err.append("interrupted resumes during interrupter turn %.2f" % it["t"])
            # echo: regress the leg on the delayed source over source-only stretches
            ec, eres = T["conditions"]["echo"], ""
            if ec:
                leg, src = ec["leg"], ec["source"]
                s_sig, l_sig = ch[src], ch[leg]
                m = mask(sp[src], n) & ~mask(sp[leg], n, 0.3)
                idx = np.where(m)[0]
                best = None
                for d in range(0, int(0.2 * SR)):
                    ii = idx[idx + d < n]
                    c = np.dot(l_sig[ii + d], s_sig[ii])
                    if best is None or c > best[1]:
                        best = (d, c)
                d = best[0]
                ii = idx[idx + d < n]
                g = np.dot(l_sig[ii + d], s_sig[ii]) / np.dot(s_sig[ii], s_sig[ii])
                gdb = 20 * np.log10(max(g, 1e-9))
                eres = "echo %s<-%s %.1fdB@%dms (stated %d@%d)" % (leg, src, gdb, round(d / 8), ec["level_db"], ec["delay_ms"])
                if abs(d / 8 - ec["delay_ms"]) > 1.5 or abs(gdb - ec["level_db"]) > (1.5 if ec["lowpass_hz"] else 0.5):
                    err.append(eres)
            bres = ""
            bb = T["conditions"]["babble"]
            if bb:
                # in quiet stretches (no speech, echo is zero there too) the agent leg holds babble + noise
                lv = 10 * np.log10(np.mean(ch["agent"][quiet] ** 2))
                bres = "babble %.1fdBFS (stated %.1f)" % (lv, bb["level_dbfs"])
                if abs(lv - bb["level_dbfs"]) > 3:
                    err.append(bres)
            else:
                nl = 10 * np.log10(np.mean(ch["agent"][quiet] ** 2))
                if abs(nl - T["levels_dbfs"]["noise_rms"]) > 1.5:
                    err.append("noise %.1f" % nl)
            # arithmetic
            for s in ("agent", "customer"):
                S = T["speakers"][s]
                if abs(S["talk_time_s"] - sum(b - a for a, b in S["voiced_spans"])) > 0.02:
                    err.append("talk_time")
                if S["words"] != sum(u["words"] for u in T["utterances"] if u["speaker"] == s):
                    err.append("words")
            # rendered-signal VAD vs truth (informative: echo/babble inflate it)
            tt_r = {s: sum(b - a for a, b in rend[s]) for s in rend}
            for k in ("calls", "bc", "bc_by_customer", "int", "sil"):
                tot.setdefault((split, k), 0)
            tot[(split, "calls")] += 1
            tot[(split, "bc")] += len(T["backchannels"])
            tot[(split, "bc_by_customer")] += sum(b["by"] == "customer" for b in T["backchannels"])
            tot[(split, "int")] += len(T["interruptions"])
            tot[(split, "sil")] += len(T["silences"])
            print("%s %-12s dur=%.1f lev a=%.1f c=%.1f bc=%d int=%d sil=%d talk a=%.1f/%.1f c=%.1f/%.1f %s %s %s" % (
                cid, T["conditions"]["type"], T["duration_s"], lev["agent"], lev["customer"], len(T["backchannels"]),
                len(T["interruptions"]), len(T["silences"]), T["speakers"]["agent"]["talk_time_s"], tt_r["agent"],
                T["speakers"]["customer"]["talk_time_s"], tt_r["customer"], eres, bres,
                ("FAIL " + "; ".join(err)) if err else "ok"))
            if err:
                problems.append((cid, err))
    print(tot)
    print("problems:", len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
