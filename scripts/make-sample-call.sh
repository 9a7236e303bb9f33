#!/usr/bin/env bash
# make-sample-call.sh — regenerate the synthetic demo call shipped in samples/.
#
# Output:
#   samples/demo-call.wav         stereo 8 kHz G.711 mu-law WAV (format tag 7),
#                                 left = agent, right = customer, as a SIP
#                                 recorder would write it
#   samples/demo-call.truth.json  ground truth: utterance extents, interruptions
#                                 and long silences, computed while building
#
# Tools: espeak-ng (speech synthesis) and sox/soxi (DSP), both Debian packages,
# plus awk for arithmetic. Installed with apt-get if missing.
#
# How the call is made:
#   1. every utterance is synthesised on its own with espeak-ng (agent and
#      customer use different voices), leading/trailing silence is trimmed,
#      it is resampled to 8 kHz, band-limited to 300-3400 Hz and levelled to
#      about -20 dBFS RMS (peaks kept below -1 dBFS);
#   2. start times are computed from the measured clip durations (soxi -D),
#      so the interruptions, the backchannel and the hold silence land where
#      the script says, whatever espeak's exact timing is;
#   3. each clip is shifted to its start with `pad`, the clips of one speaker
#      are mixed onto that speaker's channel together with white noise at
#      about -60 dBFS RMS (so no channel is ever digitally silent);
#   4. the two channels are merged (-M) and written as 8-bit mu-law.
#
# Everything is deterministic: espeak-ng is, and sox runs with -R (fixed seed
# for the noise generator and the dither).
#
# Usage: scripts/make-sample-call.sh   (from anywhere; writes into samples/)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT_DIR=samples
OUT_WAV="$OUT_DIR/demo-call.wav"
OUT_JSON="$OUT_DIR/demo-call.truth.json"

# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  # Try without refreshing the package lists first; update only if that fails.
  apt-get install -y "${missing[@]}" ||
    { apt-get update && apt-get install -y "${missing[@]}"; }
fi

# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------
RATE=8000
AGENT_VOICE="en-us+f3"     # left channel
CUSTOMER_VOICE="en-us+m3"  # right channel
WPM=180                    # espeak speaking rate (words per minute)
BACKCHANNEL_WPM=250        # faster, so the "uh-huh" stays well under 0.3 s
SPEECH_RMS_DB=-20          # target RMS level of each utterance (dBFS)
PEAK_CEIL_DB=-1            # ...but never let a clip peak above this (dBFS)
NOISE_RMS_DB=-60           # white-noise floor on both channels (dBFS RMS)

# Turn-taking timings (seconds)
LEAD_IN=0.5                # greeting starts here
TURN_GAP=0.5               # ordinary gap between turns
AGENT_OVERLAP=1.0          # agent starts this long before the customer ends
HOLD_SILENCE=4.0           # "one moment" hold: nothing but noise
CUSTOMER_OVERLAP=0.8       # customer starts this long before the agent ends
TAIL=0.5                   # noise after the goodbye

SOX="sox -R -V1"           # repeatable, errors only
FLOAT=(-e floating-point -b 32)   # intermediate format: no clipping, no dither

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
# calc EXPR — evaluate an arithmetic expression with awk, 3 decimals.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# sox_stat FILE FIELD — one value from `sox FILE -n stats` (mono files).
sox_stat() { sox "$1" -n stats 2>&1 | awk -v f="$2" 'index($0, f) == 1 { print $NF }'; }

# render ID VOICE WPM TEXT — synthesise TEXT into $WORK/ID.wav: trimmed,
# 8 kHz, 300-3400 Hz, levelled. Sets DUR[ID] (seconds, from soxi -D).
declare -A DUR
render() {
  local id=$1 voice=$2 wpm=$3 text=$4
  espeak-ng -v "$voice" -s "$wpm" -w "$WORK/$id.espeak.wav" "$text"
  # gain -3 = headroom for the resampler; silence ... reverse (x2) trims the
  # synthesiser's leading and trailing silence.
  $SOX "$WORK/$id.espeak.wav" "${FLOAT[@]}" "$WORK/$id.band.wav" \
    gain -3 \
    silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse \
    rate "$RATE" sinc 300-3400
  local rms pk gain
  rms=$(sox_stat "$WORK/$id.band.wav" "RMS lev dB")
  pk=$(sox_stat "$WORK/$id.band.wav" "Pk lev dB")
  gain=$(awk -v r="$rms" -v p="$pk" -v t="$SPEECH_RMS_DB" -v c="$PEAK_CEIL_DB" \
    'BEGIN { g = t - r; if (p + g > c) g = c - p; printf "%.2f", g }')
  $SOX "$WORK/$id.band.wav" "$WORK/$id.wav" gain "$gain"
  DUR[$id]=$(calc "$(soxi -D "$WORK/$id.wav")")
}

# Timeline bookkeeping, filled by place().
IDS=() ; declare -A SPK START END TEXT
# place ID SPEAKER START TEXT — record that clip ID starts at START.
place() {
  local id=$1
  IDS+=("$id"); SPK[$id]=$2; START[$id]=$3; TEXT[$id]=$4
  END[$id]=$(calc "$3 + ${DUR[$id]}")
}

# say ID SPEAKER START TEXT [WPM] — render and place in one go.
say() {
  local id=$1 spk=$2 start=$3 text=$4 wpm=${5:-$WPM} voice
  if [[ $spk == agent ]]; then voice=$AGENT_VOICE; else voice=$CUSTOMER_VOICE; fi
  render "$id" "$voice" "$wpm" "$text"
  place "$id" "$spk" "$start" "$text"
}

# --------------------------------------------------------------------------
# The conversation. Each start is derived from the clips before it.
# --------------------------------------------------------------------------
# 1. Agent greeting.
say a1 agent "$LEAD_IN" \
  "Good morning, thanks for calling Brightline, this is Emily. How can I help?"

# 2. Customer complains about a late delivery (two sentences).
say c1 customer "$(calc "${END[a1]} + $TURN_GAP")" \
  "Hi. My sofa was due on Friday and it still hasn't come. Nobody has called me."

# 3.+4. Agent cuts in ~1 s before the customer finishes (interruption), then
#       puts the customer on hold.
render a2 "$AGENT_VOICE" "$WPM" \
  "I'm so sorry about that. Let me check that for you, one moment."
place a2 agent "$(calc "${END[c1]} - $AGENT_OVERLAP")" \
  "I'm so sorry about that. Let me check that for you, one moment."

#    Hold: ~4 s with nobody speaking.
HOLD_START=${END[a2]}
HOLD_END=$(calc "$HOLD_START + $HOLD_SILENCE")

# 5. Agent comes back with the answer; the customer backchannels ("uh-huh",
#    well under 0.3 s) in the middle of it. Not an interruption.
say a3 agent "$HOLD_END" \
  "Thanks for holding. Your sofa is at our local depot, and it will arrive tomorrow morning."
render bc "$CUSTOMER_VOICE" "$BACKCHANNEL_WPM" "uh-huh"
place bc customer "$(calc "${START[a3]} + 0.55 * ${DUR[a3]}")" "uh-huh"

# 6. Customer replies; agent offers a goodwill credit and the customer
#    interrupts ~0.8 s before the agent is done.
say c2 customer "$(calc "${END[a3]} + $TURN_GAP")" "Okay, that's fine."
say a4 agent "$(calc "${END[c2]} + $TURN_GAP")" \
  "I've also added a small credit to your account."
render c3 "$CUSTOMER_VOICE" "$WPM" "Oh great, thank you."
place c3 customer "$(calc "${END[a4]} - $CUSTOMER_OVERLAP")" \
  "Oh great, thank you."

# 7. Closing.
say a5 agent "$(calc "${END[c3]} + $TURN_GAP")" "Thanks for calling, goodbye."

TOTAL=$(calc "${END[a5]} + $TAIL")

# --------------------------------------------------------------------------
# Build the channels
# --------------------------------------------------------------------------
# White noise floor. A multi-channel `synth whitenoise` puts the *same*
# samples on every channel, so synthesise one mono track twice the call's
# length and give each channel its own half. The generator's level is not
# documented (about -15.8 dBFS RMS here), so measure it and correct the gain.
$SOX -n -r "$RATE" -c 1 "${FLOAT[@]}" "$WORK/noise.raw.wav" \
  synth "$(calc "2 * $TOTAL")" whitenoise
noise_rms=$(sox_stat "$WORK/noise.raw.wav" "RMS lev dB")
$SOX "$WORK/noise.raw.wav" "$WORK/noise.wav" \
  gain "$(calc "$NOISE_RMS_DB - ($noise_rms)")"

# build_channel SPEAKER NOISE_OFFSET OUT — noise (TOTAL seconds of noise.wav
# from NOISE_OFFSET) + that speaker's clips.
build_channel() {
  local spk=$1 noff=$2 out=$3 id
  local inputs=(-v 1 "$WORK/noise.$spk.wav")
  $SOX "$WORK/noise.wav" "$WORK/noise.$spk.wav" trim "$noff" "$TOTAL"
  for id in "${IDS[@]}"; do
    [[ ${SPK[$id]} == "$spk" ]] || continue
    $SOX "$WORK/$id.wav" "$WORK/$id.placed.wav" pad "${START[$id]}"
    inputs+=(-v 1 "$WORK/$id.placed.wav")  # -v 1: mix at unity, no 1/n scaling
  done
  $SOX -m "${inputs[@]}" "${FLOAT[@]}" "$out" trim 0 "$TOTAL"
}
build_channel agent 0 "$WORK/left.wav"
build_channel customer "$TOTAL" "$WORK/right.wav"

# Merge: left = agent, right = customer; G.711 mu-law, 8 kHz, 8 bit.
mkdir -p "$OUT_DIR"
$SOX -M "$WORK/left.wav" "$WORK/right.wav" \
  -e u-law -b 8 -c 2 -r "$RATE" "$OUT_WAV"

# --------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------
json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

{
  printf '{\n  "call_id": "demo-call",\n'
  printf '  "duration_s": %s,\n' "$(calc "$(soxi -D "$OUT_WAV")")"
  printf '  "utterances": [\n'
  sep=""
  for id in "${IDS[@]}"; do
    printf '%s    {"speaker": "%s", "start": %s, "end": %s, "text": %s}' \
      "$sep" "${SPK[$id]}" "${START[$id]}" "${END[$id]}" "$(json_str "${TEXT[$id]}")"
    sep=$',\n'
  done
  printf '\n  ],\n'
  # The backchannel (bc) is deliberately not listed here.
  printf '  "interruptions": [\n'
  printf '    {"t": %s, "by": "agent", "of": "customer"},\n' "${START[a2]}"
  printf '    {"t": %s, "by": "customer", "of": "agent"}\n' "${START[c3]}"
  printf '  ],\n'
  # Only the hold is listed; every other gap is a turn gap of <= 0.5 s
  # (plus the 0.5 s lead-in and tail).
  printf '  "silences": [\n'
  printf '    {"start": %s, "end": %s}\n' "$HOLD_START" "$HOLD_END"
  printf '  ]\n}\n'
} >"$OUT_JSON"

# --------------------------------------------------------------------------
# Self-check: WAV format tag (bytes 20-21) must be 7 = mu-law.
# --------------------------------------------------------------------------
tag=$(od -An -tx1 -j20 -N2 "$OUT_WAV" | tr -d ' \n')
if [[ $tag != 0700 ]]; then
  echo "error: $OUT_WAV has WAV format tag $tag, expected 0700 (mu-law)" >&2
  exit 1
fi
echo "wrote $OUT_WAV ($(wc -c <"$OUT_WAV") bytes, ${TOTAL} s) and $OUT_JSON"
