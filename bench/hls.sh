#!/usr/bin/env bash
# Live HLS serving: GETs per second (wrk) of a public stream's live media playlist while ffmpeg
# publishes it, and server CPU per request (the publish's own CPU included, the same in every
# run). With BASE set to another streamd binary, the two are measured alternately, ROUNDS times
# each, and the medians compared: how a change to the web path costs public playback.
#
# Usage: bench/hls.sh                          (build/streamd alone)
#        BASE=/path/to/old/streamd bench/hls.sh
# Env:   ROUNDS=3  DURATION=10s  CONNECTIONS=32  THREADS=2  STREAMD=build/streamd
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
STREAMD=${STREAMD:-build/streamd}
BASE=${BASE:-}
BENCH_NAME=bench/hls.sh
. "$repo/bench/lib/common.sh"
command -v wrk >/dev/null && command -v ffmpeg >/dev/null ||
    die "needs wrk and ffmpeg (scripts/install-deps.sh test)"
ensure_streamd

start_scratch hls
server_pid=""
ffmpeg_pid=""
bench_processes() { echo $server_pid $ffmpeg_pid; }

# One round on binary $1: prints "req/s cpu_us_per_request".
measure() { # binary
    local bin=$1 http rtmp key data created stream_key playback url out ticks_before ticks_after
    free_port http
    free_port rtmp
    key=$(cat /proc/sys/kernel/random/uuid)
    data=$(mktemp -d "$tmp/data.XXXXXX")
    "$bin" --data "$data" --http "127.0.0.1:$http" --rtmp "127.0.0.1:$rtmp" \
        --public-url "http://127.0.0.1:$http" --api-key "$key" --log-level warn \
        >"$data/streamd.log" 2>&1 &
    server_pid=$!
    wait_ready http_200 "http://127.0.0.1:$http/healthz" "$data/streamd.log" "$server_pid" streamd
    created=$(curl -s -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d '{"name":"hls bench","profiles":[]}' "http://127.0.0.1:$http/api/stream")
    stream_key=$(jq -r .streamKey <<<"$created")
    playback=$(jq -r .playbackId <<<"$created")
    ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=30 -f lavfi -i sine \
        -c:v libx264 -preset ultrafast -g 30 -c:a aac -f flv \
        "rtmp://127.0.0.1:$rtmp/live/$stream_key" >"$data/ffmpeg.log" 2>&1 &
    ffmpeg_pid=$!
    url="http://127.0.0.1:$http/hls/$playback/source/index.m3u8"
    for _ in $(seq 1 100); do
        http_200 "$url" && break
        sleep 0.1
    done
    http_200 "$url" || die "$bin: $url never answered 200"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url" >/dev/null
    out="$data/wrk.txt"
    ticks_before=$(cpu_ticks "$server_pid")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" >"$out"
    ticks_after=$(cpu_ticks "$server_pid")
    grep -q "Non-2xx" "$out" && die "$bin: statuses other than 2xx: $(cat "$out")"
    awk -v t=$((ticks_after - ticks_before)) -v hz="$clock_ticks" '
        /requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 }
        END { printf "%.0f %.1f\n", r, t / hz * 1e6 / n }' "$out"
    stop_processes "$ffmpeg_pid" "$server_pid"
    ffmpeg_pid="" server_pid=""
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "GET /hls/{playbackId}/source/index.m3u8 of a public live stream, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, nproc=$(nproc)"
printf '%-6s %-40s %10s %12s\n' round binary req/s "CPU us/req"
: >"$tmp/results"
for round in $(seq 1 "$ROUNDS"); do
    for bin in ${BASE:+"$BASE"} "$STREAMD"; do
        read -r rps cpu <<<"$(measure "$bin")"
        printf '%-6s %-40s %10s %12s\n' "$round" "$bin" "$rps" "$cpu"
        echo "$bin $rps $cpu" >>"$tmp/results"
    done
done
for bin in ${BASE:+"$BASE"} "$STREAMD"; do
    rps=$(awk -v b="$bin" '$1 == b { print $2 }' "$tmp/results" | median)
    cpu=$(awk -v b="$bin" '$1 == b { print $3 }' "$tmp/results" | median)
    printf 'median %-40s %10s %12s\n' "$bin" "$rps" "$cpu"
done
echo "rerun: ${BASE:+BASE=$BASE }STREAMD=$STREAMD ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS bench/hls.sh"
