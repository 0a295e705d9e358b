#!/usr/bin/env bash
# Soak: PASSTHROUGH (50) source-only and TRANSCODED (2) recorded publishers for DURATION_MIN (30)
# minutes with API polling, HLS readers, reconnects and kill -9 of publishers; then every
# session's counters against its recording on disk, the server's RSS slope after warm-up, its
# descriptors before and after, API latency, and the log lines above info (bench/soak.mjs does
# the work). Not in CI: it takes DURATION_MIN plus a few minutes, and the whole machine.
#
# Usage: bench/soak.sh
# Env:   DURATION_MIN=30 WARMUP_MIN=5 PASSTHROUGH=50 TRANSCODED=2 RECONNECT_EVERY_S=120
#        KILL_EVERY_S=180 READERS=5 STREAMD=build/streamd KEEP=1 (keep the data directory)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
STREAMD=${STREAMD:-build/streamd}
BENCH_NAME=bench/soak.sh
. "$repo/bench/lib/common.sh"
command -v ffmpeg >/dev/null && command -v node >/dev/null ||
    die "needs ffmpeg and node (scripts/install-deps.sh test)"
ensure_streamd

start_scratch soak
bench_processes() { :; }
# 30 s loops: a small source (320x240, ~250 kbit/s) for the passthrough publishers, 640x360 for
# the transcoded ones; keyframes every 2 s.
render() { # file size rate
    ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$2:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 30 -c:v libx264 -preset veryfast \
        -b:v "$3" -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k -shortest "$1"
}
render "$tmp/small.flv" 320x240 200k
render "$tmp/medium.flv" 640x360 800k
SMALL_FLV="$tmp/small.flv" MEDIUM_FLV="$tmp/medium.flv" STREAMD="$STREAMD" SOAK_DIR="$tmp" \
    node "$repo/bench/soak.mjs"
