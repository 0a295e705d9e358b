#!/usr/bin/env bash
# Webhooks benchmark: STEADY (20) live passthrough streams, CHURN (10) streams that publish for a
# few seconds and stop over and over (each start and stop raises stream.started / stream.idle),
# and HOOKS (20) webhooks subscribed to both, so every flip is HOOKS deliveries to a local
# receiver (node, on loopback). It reports, from the receiver's clock against each body's
# createdAt (the time the store raised the event, in the transaction of the change):
#   - deliveries per second received, and the delivery delay p50/p99/max;
#   - publish-to-stream.started: from the publisher's spawn to the event's arrival;
#   - a burst: one stream.started fanned out to BURST (500) webhooks, time until all arrived;
#   - streamd's CPU seconds over the same window with the webhooks and, as the reference run in
#     the same script, with none (run twice: the spread of the two is the noise); with webhooks
#     split into the delivery thread (named "hooks") and every other thread, the ingest side.
# Goal (issue 13): p99 <= 100 ms; the ingest side's CPU with webhooks no more than the higher
# of the two reference runs (the delivery thread's own CPU is reported per delivery).
#
# Usage: bench/webhooks.sh
# Env:   STEADY=20 CHURN=10 HOOKS=20 WINDOW_S=60 BURST=500 STREAMD=build/streamd
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
STREAMD=${STREAMD:-build/streamd}
BENCH_NAME=bench/webhooks.sh
. "$repo/bench/lib/common.sh"
command -v ffmpeg >/dev/null && command -v node >/dev/null ||
    die "needs ffmpeg and node (scripts/install-deps.sh test)"
ensure_streamd

start_scratch webhooks
bench_processes() { :; }
# A 20 s loop of small video (320x240, ~250 kbit/s), keyframes every 2 s, sent with -c copy.
ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=320x240:rate=30" \
    -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 20 -c:v libx264 -preset veryfast \
    -b:v 200k -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k -shortest "$tmp/small.flv"
SMALL_FLV="$tmp/small.flv" STREAMD="$STREAMD" BENCH_DIR="$tmp" node "$repo/bench/webhooks.mjs"
