#!/usr/bin/env bash
# Disk full, on a small tmpfs (not in CI: it mounts one, as root or in a user namespace).
#   1. Recordings on the tmpfs (--recordings-dir), live HLS and the database elsewhere; the tmpfs
#      is filled but for 2 MiB, and a recorded stream publishes 15 s next to an unrecorded one:
#      the server stays up, the API answers, both streams stay live and playable, and the
#      recorded session ends with recordingStatus "failed" and the reason in its issues.
#   2. The whole data directory (database included) on the tmpfs, filled to the last byte: the
#      server stays up, API reads answer 200, a write answers 503 with the reason, a publish is
#      refused with the reason; once the space returns, a recorded publish works end to end.
# Prints PASS/FAIL per check; exits 1 when one fails.
#
# Usage: bench/diskfull.sh        Env: STREAMD=build/streamd KEEP_TMP=1
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" -ne 0 ] && [ -z "${DISKFULL_IN_NS:-}" ]; then
    exec env DISKFULL_IN_NS=1 unshare --user --map-root-user --mount "$0" "$@"
fi
cd "$repo"
STREAMD=${STREAMD:-build/streamd}
BENCH_NAME=bench/diskfull.sh
. "$repo/bench/lib/common.sh"
command -v ffmpeg >/dev/null && command -v jq >/dev/null || die "needs ffmpeg and jq"
ensure_streamd

start_scratch diskfull
server_pid=""
bench_processes() { echo $server_pid; }
failures=0
check() { # description command...
    local what=$1
    shift
    if "$@"; then echo "PASS $what"; else
        echo "FAIL $what"
        failures=$((failures + 1))
    fi
}

key=$(cat /proc/sys/kernel/random/uuid)
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=sample_rate=44100 -t 20 -c:v libx264 -preset veryfast -g 60 \
    -pix_fmt yuv420p -c:a aac -shortest "$tmp/src.flv"

start_server() { # data_dir extra_flags...
    local data=$1
    shift
    free_port http
    free_port rtmp
    "$STREAMD" --data "$data" --http "127.0.0.1:$http" --rtmp "127.0.0.1:$rtmp" --api-key "$key" \
        --reconnect-window 3 "$@" >>"$tmp/server.log" 2>&1 &
    server_pid=$!
    wait_ready http_200 "http://127.0.0.1:$http/healthz" "$tmp/server.log" "$server_pid" streamd
}
api() { # method path [body] -> body, then the status on the last line
    curl -s -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$http$2"
}
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
new_stream() { body_of "$(api POST /api/stream "{\"name\":\"$1\",\"record\":$2,\"profiles\":[]}")"; }
publish() { # key seconds
    ffmpeg -nostdin -loglevel error -re -i "$tmp/src.flv" -t "$2" -c copy -f flv \
        "rtmp://127.0.0.1:$rtmp/live/$1"
}
fill() { # dir leave_bytes
    local avail
    avail=$(df --output=avail -B1 "$1" | tail -1)
    fallocate -l $((avail - $2)) "$1/filler" 2>/dev/null ||
        head -c $((avail - $2)) /dev/zero >"$1/filler" 2>/dev/null || true
}
session_of() { body_of "$(api GET "/api/stream/$1/sessions")" | jq -c '.[0]'; }
alive() { kill -0 "$server_pid" 2>/dev/null; }

mkdir -p "$tmp/full"
mount -t tmpfs -o size=48m tmpfs "$tmp/full"

echo "== 1. recordings on a full disk =="
mkdir -p "$tmp/data1"
start_server "$tmp/data1" --recordings-dir "$tmp/full/rec"
a=$(new_stream recorded true)
b=$(new_stream other false)
fill "$tmp/full" $((2 * 1024 * 1024))
publish "$(jq -r .streamKey <<<"$b")" 15 &
other=$!
publish "$(jq -r .streamKey <<<"$a")" 15 &
recorded=$!
sleep 8
check "the server is up while the recordings' disk is full" alive
check "GET /api/stream answers 200" test "$(status_of "$(api GET /api/stream)")" = 200
for s in "$a" "$b"; do
    pid=$(jq -r .playbackId <<<"$s")
    check "$(jq -r .name <<<"$s"): live HLS plays" \
        ffprobe -v error -i "http://127.0.0.1:$http/hls/$pid/index.m3u8" -show_entries format=duration -of csv=p=0 >/dev/null
done
check "both publishers run to their end" wait $other $recorded
sleep 8
sa=$(session_of "$(jq -r .id <<<"$a")")
echo "recorded session: $(jq -c '{recordingStatus, issues, sourceSegments, sourceBytes}' <<<"$sa")"
check "its recordingStatus is failed" test "$(jq -r .recordingStatus <<<"$sa")" = failed
check "its issues say why" grep -q "No space left on device" <<<"$(jq -r '.issues // [] | join(" ")' <<<"$sa")"
stop_processes "$server_pid"
server_pid=""
rm -f "$tmp/full/filler"
rm -rf "$tmp/full/rec"

echo "== 2. the data directory, database included, on a full disk =="
start_server "$tmp/full/data"
c=$(new_stream again true)
fill "$tmp/full" 0
check "GET /api/stream answers 200 on a full disk" test "$(status_of "$(api GET /api/stream)")" = 200
r=$(api POST /api/stream '{"name":"no room"}')
echo "POST /api/stream: $(status_of "$r") $(body_of "$r")"
check "a write answers 503" test "$(status_of "$r")" = 503
check "and says the disk is full" grep -q "disk is full" <<<"$(body_of "$r")"
out=$(publish "$(jq -r .streamKey <<<"$c")" 3 2>&1 || true)
echo "publish on a full disk: $out"
check "a publish is refused with the reason" grep -q "disk is full" <<<"$out"
check "the server is up" alive
rm -f "$tmp/full/filler"
check "once the space returns, a publish works" publish "$(jq -r .streamKey <<<"$c")" 6
sleep 8
sc=$(session_of "$(jq -r .id <<<"$c")")
echo "session after the space returned: $(jq -c '{recordingStatus, sourceSegments}' <<<"$sc")"
check "and is recorded" test "$(jq -r .recordingStatus <<<"$sc")" = ready
stop_processes "$server_pid"
server_pid=""
check "the server stops cleanly" grep -q "stopped" "$tmp/server.log"
echo "log lines above info:"
grep -E '^\S+ (warn|error) ' "$tmp/server.log" | cut -d' ' -f2- | sed -E 's/[0-9a-f]{8}-[0-9a-f-]{27}/ID/g; s/[0-9]+/N/g' |
    sort | uniq -c | sort -rn
umount "$tmp/full"
[ "$failures" -eq 0 ] && echo "diskfull: PASS" || {
    echo "diskfull: FAIL ($failures)"
    exit 1
}
