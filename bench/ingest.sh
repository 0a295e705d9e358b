#!/usr/bin/env bash
# Ingest benchmark: N concurrent `ffmpeg -re -c copy` RTMP publishers (2 Mbps H.264/AAC each) into
# streamd and, in the same run, into nginx with nginx-rtmp (libnginx-mod-rtmp, `hls on`, 2 s
# fragments). nginx-rtmp is the reference for "take RTMP in, write MPEG-TS segments and a live
# playlist"; streamd also keeps per-session counters in SQLite, which this script checks exactly.
#
# For each N and each server it measures:
#   - server CPU seconds (user+sys from /proc/PID/stat, before/after) per MB the publishers sent;
#   - peak RSS per stream: (VmHWM after the run - VmHWM when idle) / N;
#   - time from the publisher sending the keyframe that closes a segment to the playlist that lists
#     it (playlist mtime vs. the publisher's real-time clock, see bench/lib/hls_watch.py), and
#     from the segment file's last write to that playlist;
# and prints the streamd/nginx ratios. After each streamd run it checks every session's counters:
# sourceSegments == segments in its playlist, sourceBytes == sum of those segment files' sizes.
# Results and what the numbers mean: bench/RESULTS.md.
#
# Usage: bench/ingest.sh            (from the repo root or anywhere)
# Env:   NS="10 50 200"  DURATION=30 (seconds of media each publisher sends)  POLL_MS=50
#        SETTLE=2 (seconds after the last publisher exits)  STREAMD=build/streamd  KEEP_TMP=0
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

NS=${NS:-10 50 200}
DURATION=${DURATION:-30}
POLL_MS=${POLL_MS:-50}
SETTLE=${SETTLE:-2}
STREAMD=${STREAMD:-build/streamd}
KEEP_TMP=${KEEP_TMP:-0}
RTMP_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so

BENCH_NAME=bench/ingest.sh
. "$repo/bench/lib/common.sh"

for n in $NS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 1000 ] || die "NS must list counts 1..1000 (got '$n')"
done
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds (got '$DURATION')"

# --- tools ------------------------------------------------------------------------------------
need_tools() {
    local missing=() cmd
    for cmd in ffmpeg ffprobe curl jq python3 ss; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    [ "${#missing[@]}" -eq 0 ] || die "missing ${missing[*]}; on Debian: sudo apt-get install -y ffmpeg curl jq python3 iproute2"
    if ! { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || [ ! -f "$RTMP_MODULE" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            note "nginx-rtmp missing; running apt-get install -y libnginx-mod-rtmp nginx-light"
            DEBIAN_FRONTEND=noninteractive apt-get install -y libnginx-mod-rtmp nginx-light >&2 || {
                apt-get update -qq >&2
                DEBIAN_FRONTEND=noninteractive apt-get install -y libnginx-mod-rtmp nginx-light >&2
            }
        else
            die "nginx-rtmp missing; install with: sudo apt-get install -y libnginx-mod-rtmp nginx-light"
        fi
    fi
    [ -f "$RTMP_MODULE" ] || die "$RTMP_MODULE still missing"
}
need_tools
NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

ensure_streamd

# Each server holds a socket and a segment file per publisher, plus its own descriptors.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- temp dir, processes, cleanup -------------------------------------------------------------
start_scratch ingest
streamd_pid=""
nginx_pid=""
watch_pid=""
pub_pids=()
bench_processes() { echo "${pub_pids[@]}" $watch_pid $streamd_pid $nginx_pid; }

now_ns() { date +%s%N; }

# Sum of VmHWM (peak resident set, kB) of the given processes.
hwm_kb() {
    local pid total=0
    for pid in "$@"; do
        total=$((total + $(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")))
    done
    echo "$total"
}
# "busy idle kernel" clock ticks of the whole machine (all CPUs): busy and idle from the first
# line of /proc/stat; kernel = its irq + softirq time plus the user+sys time of kernel threads
# (children of kthreadd, pid 2: ksoftirqd, kworkers writing the segments back, ...). Kernel work
# is largely the benchmark's own (loopback networking, page cache writeback), not other programs.
machine_jiffies() {
    local kthreads
    kthreads=$(for stat in /proc/[0-9]*/stat; do
        sed 's/.*) //' "$stat" 2>/dev/null
    done | awk '$2 == 2 { t += $12 + $13 } END { print t + 0 }')
    awk -v k="$kthreads" '/^cpu / { idle = $5 + $6; busy = 0; for (i = 2; i <= 9; i++) busy += $i
        print busy - idle, idle, $7 + $8 + k; exit }' /proc/stat
}

# --- input ------------------------------------------------------------------------------------
# testsrc2 moves enough that x264 reaches its target bitrate; one GOP = 2 s = one segment.
input="$tmp/in.flv"
note "generating ${DURATION} s of 1280x720 30 fps H.264 1.9 Mbps + AAC 96 kb/s"
ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t "$DURATION" -map 0:v -map 1:a \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -b:v 1900k -maxrate 2000k -bufsize 4000k \
    -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 96k -ac 2 -f flv "$input"
input_bytes=$(stat -c %s "$input")
input_seconds=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$input")
input_mbps=$(awk -v b="$input_bytes" -v s="$input_seconds" 'BEGIN { printf "%.2f", b * 8 / s / 1e6 }')
input_us=$(awk -v s="$input_seconds" 'BEGIN { printf "%d", s * 1e6 }')

# --- publishers -------------------------------------------------------------------------------
# Starts one ffmpeg per URL (all at once); the Nth writes -progress to $pub_dir/N.progress.
pub_dir=""
launch_publishers() { # dir url...
    pub_dir=$1
    shift
    mkdir -p "$pub_dir"
    pub_pids=()
    local i=0 url
    for url in "$@"; do
        i=$((i + 1))
        ffmpeg -hide_banner -loglevel error -nostdin -re -i "$input" -c copy \
            -progress "$pub_dir/$i.progress" -stats_period 0.5 -f flv "$url" \
            >"$pub_dir/$i.log" 2>&1 &
        pub_pids+=($!)
    done
}

# Waits for every publisher; kills the ones still running at the deadline. Samples the server's
# thread count half way, and about once a second the publisher connections the server has open
# (established TCP connections on its RTMP port). Sets pub_end_ns, pub_failed, threads_mid,
# conns_max.
pub_end_ns=0 pub_failed=0 threads_mid="" conns_max=0
wait_publishers() { # start_ns server_pid rtmp_port
    local start_ns=$1 server_pid=$2 port=$3 deadline running pid i rc conns polls=0
    deadline=$((start_ns + (DURATION * 3 + 60) * 1000000000))
    threads_mid=""
    conns_max=0
    while :; do
        if [ $((polls % 5)) -eq 0 ]; then
            conns=$(ss -Htn state established "sport = :$port" 2>/dev/null | wc -l)
            [ "$conns" -gt "$conns_max" ] && conns_max=$conns
        fi
        polls=$((polls + 1))
        running=0
        for pid in "${pub_pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && running=$((running + 1))
        done
        [ "$running" -eq 0 ] && break
        if [ -z "$threads_mid" ] && [ $(($(now_ns) - start_ns)) -ge $((DURATION * 500000000)) ]; then
            threads_mid=$(find "/proc/$server_pid/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        fi
        if [ "$(now_ns)" -ge "$deadline" ]; then
            note "$running publishers still running at the deadline; killing them"
            for pid in "${pub_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        fi
        sleep 0.2
    done
    pub_end_ns=$(now_ns)
    pub_failed=0
    i=0
    for pid in "${pub_pids[@]}"; do
        i=$((i + 1))
        rc=0
        wait "$pid" || rc=$?
        [ "$rc" -eq 0 ] || {
            pub_failed=$((pub_failed + 1))
            echo "$rc" >"$pub_dir/$i.rc"
        }
    done
    pub_pids=()
}

# One line "complete bytes speed_min speed_median" over the -progress files: complete = runs that
# ended (progress=end) having sent all the media (out_time within 0.5 s of the input's duration);
# bytes = sum of total_size, the FLV bytes each ffmpeg handed to its RTMP connection.
publisher_stats() { # dir count
    local i
    for i in $(seq 1 "$2"); do
        awk -v want="$input_us" -v rcfile="$1/$i.rc" '
            /^total_size=/ { bytes = substr($0, 12) + 0 }
            /^out_time_us=/ { t = substr($0, 13) + 0 }
            /^speed=/ { s = substr($0, 7); sub(/x$/, "", s); if (s ~ /^[0-9.]+$/) speed = s + 0 }
            /^progress=end/ { ended = 1 }
            END {
                failed = (getline line < rcfile) > 0
                ok = ended && !failed && t >= want - 500000
                printf "%d %d %s\n", ok, bytes, (speed == "" ? "0" : speed) }' "$1/$i.progress" 2>/dev/null ||
            echo "0 0 0"
    done | sort -k3,3g | awk '
        { ok += $1; bytes += $2; speed[NR] = $3 }
        END { printf "%d %d %s %s\n", ok, bytes, speed[1], speed[int((NR + 1) / 2)] }'
}

# --- HLS watcher ------------------------------------------------------------------------------
start_watch() { # playlist_list progress_dir events_file clocks_file
    local watch_list="$3.list"
    awk -v dir="$2" '{ printf "%s\t%s/%d.progress\n", $0, dir, NR }' "$1" >"$watch_list"
    python3 "$repo/bench/lib/hls_watch.py" watch "$watch_list" "$3" "$4" \
        "$(awk -v m="$POLL_MS" 'BEGIN { print m / 1000 }')" &
    watch_pid=$!
}
stop_watch() {
    kill -TERM "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
    watch_pid=""
}

# "segments avg_seconds" over playlists listed in a file.
playlist_segments() { # list_file
    local pl
    while read -r pl; do
        [ -f "$pl" ] && cat "$pl"
    done <"$1" | awk -F'[:,]' '/^#EXTINF:/ { n++; s += $2 } END { printf "%d %.2f\n", n, (n ? s / n : 0) }'
}

# --- one measured run ---------------------------------------------------------------------------
# Results per server go into r_<server>_<field>.
record() { printf -v "r_$1_$2" '%s' "$3"; }

# Common part: watcher, baseline, publishers, settle, CPU/RSS after; results via record.
measure_run() { # name n list_file rtmp_port server_pid measured_pids... -- urls...
    local name=$1 n=$2 list=$3 port=$4 server_pid=$5 pid
    shift 5
    local pids=()
    while [ "$1" != -- ]; do
        pids+=("$1")
        shift
    done
    shift
    local events="$tmp/$name-$n.events" clocks="$tmp/$name-$n.clocks"
    : >"$events"
    start_watch "$list" "$tmp/pub-$name-$n" "$events" "$clocks"
    sleep 1
    local ticks0 hwm0 mj0 start_ns child0
    children_cpu_s
    child0=$CHILDREN_CPU_S
    ticks0=$(cpu_ticks "${pids[@]}")
    hwm0=$(hwm_kb "${pids[@]}")
    read -r -a mj0 <<<"$(machine_jiffies)"
    start_ns=$(now_ns)
    launch_publishers "$tmp/pub-$name-$n" "$@"
    wait_publishers "$start_ns" "$server_pid" "$port"
    sleep "$SETTLE"
    [ "$name" = streamd ] && wait_endlist "$list"
    local ticks1 hwm1 mj1
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "$name process $pid died during the run (see the log above)"
    done
    ticks1=$(cpu_ticks "${pids[@]}")
    hwm1=$(hwm_kb "${pids[@]}")
    read -r -a mj1 <<<"$(machine_jiffies)"
    stop_watch
    local child1 others
    children_cpu_s
    child1=$CHILDREN_CPU_S
    # Machine CPU minus the server, the publishers and this script's helpers, and the kernel:
    # other programs.
    others=$(awk -v busy="$((mj1[0] - mj0[0]))" -v kernel="$((mj1[2] - mj0[2]))" -v hz="$clock_ticks" \
        -v srv="$((ticks1 - ticks0))" -v c0="$child0" -v c1="$child1" \
        'BEGIN { printf "%.1f", (busy - srv - kernel) / hz - (c1 - c0) }')
    record "$name" pubcpu "$(awk -v a="$child0" -v b="$child1" 'BEGIN { printf "%.1f", b - a }')"
    record "$name" kernel "$(awk -v k="$((mj1[2] - mj0[2]))" -v hz="$clock_ticks" 'BEGIN { printf "%.1f", k / hz }')"
    record "$name" others "$others"
    local stats ok bytes smin smed seg
    stats=$(publisher_stats "$tmp/pub-$name-$n" "$n")
    read -r ok bytes smin smed <<<"$stats"
    seg=$(playlist_segments "$list")
    record "$name" ok "$ok"
    record "$name" failed "$pub_failed"
    record "$name" speed "$smin/$smed"
    record "$name" mb "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')"
    record "$name" wall "$(awk -v a="$start_ns" -v b="$pub_end_ns" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
    record "$name" mbps "$(awk -v b="$bytes" -v a="$start_ns" -v e="$pub_end_ns" 'BEGIN { printf "%.1f", b * 8 / ((e - a) / 1e9) / 1e6 }')"
    record "$name" idle "$(awk -v b="$((mj1[0] - mj0[0]))" -v i="$((mj1[1] - mj0[1]))" 'BEGIN { printf "%.0f", (b + i) ? 100 * i / (b + i) : 0 }')"
    record "$name" cpu "$(awk -v t="$((ticks1 - ticks0))" -v hz="$clock_ticks" 'BEGIN { printf "%.2f", t / hz }')"
    record "$name" cpumb "$(awk -v t="$((ticks1 - ticks0))" -v hz="$clock_ticks" -v b="$bytes" 'BEGIN { printf "%.2f", b ? t / hz * 1000 / (b / 1e6) : 0 }')"
    record "$name" hwm0 "$(awk -v k="$hwm0" 'BEGIN { printf "%.1f", k / 1024 }')"
    record "$name" hwm1 "$(awk -v k="$hwm1" 'BEGIN { printf "%.1f", k / 1024 }')"
    record "$name" rss "$(awk -v d="$((hwm1 - hwm0))" -v n="$n" 'BEGIN { printf "%.0f", d / n }')"
    record "$name" segs "${seg% *}"
    record "$name" segavg "${seg#* }"
    record "$name" lat "$(python3 "$repo/bench/lib/hls_watch.py" summary "$events" "$clocks")"
    record "$name" threads "${threads_mid:-?}"
    record "$name" conns "$conns_max"
}

# Waits (at most 20 s) until every playlist ends with #EXT-X-ENDLIST: streamd has closed the
# broadcast, written the last segment and saved the final counters.
wait_endlist() { # list_file
    local _ pl missing
    for _ in $(seq 1 100); do
        missing=0
        while read -r pl; do
            tail -n 1 "$pl" 2>/dev/null | grep -q '^#EXT-X-ENDLIST' || missing=$((missing + 1))
        done <"$1"
        [ "$missing" -eq 0 ] && return 0
        sleep 0.2
    done
    note "streamd: $missing playlists without #EXT-X-ENDLIST 20 s after the publishers ended"
}

counter_result=""
counter_all_pass=1
run_streamd() { # n
    local n=$1
    local data="$tmp/streamd-$n" log="$tmp/streamd-$n.log" api_key http_port rtmp_port base
    api_key=$(cat /proc/sys/kernel/random/uuid)
    free_port http_port
    free_port rtmp_port
    base="http://127.0.0.1:$http_port"
    mkdir -p "$data"
    "$STREAMD" --data "$data" --http "127.0.0.1:$http_port" --rtmp "127.0.0.1:$rtmp_port" \
        --public-url "$base" --api-key "$api_key" --hls-window 1000 --log-level warn >"$tmp/streamd-$n.out" 2>"$log" &
    streamd_pid=$!
    wait_ready listening "$http_port" "$log" "$streamd_pid" streamd
    # A build from before the ingest code answers HTTP but never opens the RTMP port.
    wait_ready listening "$rtmp_port" "$log" "$streamd_pid" "streamd (RTMP; is $STREAMD older than src/ingest? make build)"
    local auth="Authorization: Bearer $api_key" i created key pb urls=() list="$tmp/streamd-$n.playlists"
    : >"$list"
    for i in $(seq 1 "$n"); do
        created=$(curl -sf -X POST -H "$auth" -H 'Content-Type: application/json' \
            -d "{\"name\":\"bench$i\",\"profiles\":[]}" "$base/api/stream") ||
            die "POST /api/stream failed for stream $i"
        key=$(jq -r '.streamKey // empty' <<<"$created")
        pb=$(jq -r '.playbackId // empty' <<<"$created")
        [ -n "$key" ] && [ -n "$pb" ] || die "no streamKey/playbackId in: $created"
        urls+=("rtmp://127.0.0.1:$rtmp_port/live/$key")
        echo "$data/live/$pb/source/index.m3u8" >>"$list"
    done
    measure_run streamd "$n" "$list" "$rtmp_port" "$streamd_pid" "$streamd_pid" -- "${urls[@]}"
    check_counters "$n" "$base" "$auth" "$data"
    record streamd logwarn "$(grep -c . "$log" || true)"
    if [ -s "$log" ]; then
        note "streamd log (warn and above; the startup banner goes to stdout), first 20 of $(grep -c . "$log") lines:"
        head -n 20 "$log" >&2
    fi
    kill -TERM "$streamd_pid"
    local rc=0
    wait "$streamd_pid" || rc=$?
    streamd_pid=""
    [ "$rc" -eq 0 ] || note "streamd exited with status $rc on SIGTERM"
    [ "$KEEP_TMP" = 1 ] || rm -rf "$data"
}

# sourceSegments == segments listed in the session's playlist and sourceBytes == the sum of those
# segment files' sizes, for every session; one session per publisher.
check_counters() { # n base auth data
    local n=$1 base=$2 auth=$3 data=$4 sessions total=0 exact=0 bad=()
    local id pb segs bytes pl want_segs want_bytes
    sessions=$(curl -sf -H "$auth" "$base/api/session?limit=1000") || die "GET /api/session failed"
    while IFS=$'\t' read -r id pb segs bytes; do
        total=$((total + 1))
        pl="$data/live/$pb/source/index.m3u8"
        want_segs=$(grep -vc '^#' "$pl" 2>/dev/null || true)
        want_bytes=$(grep -v '^#' "$pl" 2>/dev/null | sed "s|^|$data/live/$pb/source/|" | xargs -r stat -c %s | awk '{ s += $1 } END { print s + 0 }')
        if [ "$segs" = "$want_segs" ] && [ "$bytes" = "$want_bytes" ]; then
            exact=$((exact + 1))
        else
            bad+=("session $id: sourceSegments $segs vs playlist $want_segs, sourceBytes $bytes vs files $want_bytes")
        fi
    done < <(jq -r '.[] | [.id, .playbackId, (.sourceSegments | tostring), (.sourceBytes | tostring)] | @tsv' <<<"$sessions")
    local verdict=PASS
    [ "$total" -eq "$n" ] && [ "$exact" -eq "$n" ] || verdict=FAIL
    [ "$verdict" = PASS ] || counter_all_pass=0
    counter_result="counters N=$n: $verdict: $total sessions for $n publishers, $exact exact (sourceSegments = segments in the playlist, sourceBytes = sum of their file sizes)"
    if [ "${#bad[@]}" -gt 0 ]; then
        counter_result+=$'\n'"$(printf '  %s\n' "${bad[@]:0:10}")"
    fi
}

run_nginx() { # n
    local n=$1
    local dir="$tmp/nginx-$n" port user_line="" i urls=() list="$tmp/nginx-$n.playlists"
    free_port port
    mkdir -p "$dir/logs" "$dir/hls"
    # Only a root master switches workers to another user (default nobody, who cannot write $tmp).
    [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
    # One worker: nginx-rtmp's live application is per worker process, so a shared live app (and
    # its HLS writer) needs a single worker; streamd, by contrast, runs one event loop per core.
    cat >"$dir/nginx.conf" <<EOF
load_module $RTMP_MODULE;
$user_line
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
rtmp {
    server {
        listen 127.0.0.1:$port;
        application live {
            live on;
            record off;
            hls on;
            hls_path $dir/hls;
            hls_nested on;
            hls_fragment 2s;
            hls_playlist_length 600s;
        }
    }
}
EOF
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -t >"$dir/t.log" 2>&1 || {
        cat "$dir/t.log" >&2
        die "nginx config test failed"
    }
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/nginx.log" 2>&1 &
    nginx_pid=$!
    wait_ready listening "$port" "$dir/logs/error.log" "$nginx_pid" nginx
    local workers
    workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
    [ -n "$workers" ] || die "nginx has no worker process"
    : >"$list"
    for i in $(seq 1 "$n"); do
        urls+=("rtmp://127.0.0.1:$port/live/s$i")
        echo "$dir/hls/s$i/index.m3u8" >>"$list"
    done
    # shellcheck disable=SC2086 # $workers is a list of pids
    measure_run nginx "$n" "$list" "$port" "$nginx_pid" "$nginx_pid" $workers -- "${urls[@]}"
    record nginx procs "$((1 + $(wc -w <<<"$workers")))"
    [ "$(pgrep -P "$nginx_pid" | tr '\n' ' ')" = "$workers" ] || note "nginx worker changed during the run (crash?)"
    if grep -q . "$dir/logs/error.log"; then
        note "nginx error.log (warn and above), first 10 lines:"
        head -n 10 "$dir/logs/error.log" >&2
    fi
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
    [ "$KEEP_TMP" = 1 ] || rm -rf "$dir/hls"
}

# --- report -------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "-"; else printf "%+.1f ms", a - b }'; }
lat_field() { # "count=.. pl_med=.." field
    tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'
}
# shellcheck disable=SC2154 # r_* are set by record through printf -v
print_table() { # n
    local n=$1 sl=$r_streamd_lat nl=$r_nginx_lat
    echo
    echo "== N=$n publishers: ${input_seconds%.*} s of ${input_mbps} Mbps FLV each, -re -c copy =="
    printf '%-44s %18s %18s %10s\n' "" streamd nginx-rtmp ratio
    row() { printf '%-44s %18s %18s %10s\n' "$@"; }
    row "publishers complete / failed" "$r_streamd_ok/$r_streamd_failed" "$r_nginx_ok/$r_nginx_failed" ""
    row "publisher speed min/median (x real time)" "$r_streamd_speed" "$r_nginx_speed" ""
    row "max publishers connected at once" "$r_streamd_conns" "$r_nginx_conns" ""
    row "MB sent by publishers" "$r_streamd_mb" "$r_nginx_mb" ""
    row "wall s, first start to last exit" "$r_streamd_wall" "$r_nginx_wall" ""
    row "aggregate Mbps (nominal $(awk -v m="$input_mbps" -v n="$n" 'BEGIN { printf "%.0f", m * n }'))" "$r_streamd_mbps" "$r_nginx_mbps" ""
    row "machine idle % during the run" "$r_streamd_idle" "$r_nginx_idle" ""
    row "CPU s: publishers+helpers / kernel / other" "$r_streamd_pubcpu / $r_streamd_kernel / $r_streamd_others" "$r_nginx_pubcpu / $r_nginx_kernel / $r_nginx_others" ""
    row "server CPU s (user+sys)" "$r_streamd_cpu" "$r_nginx_cpu" "$(ratio "$r_streamd_cpu" "$r_nginx_cpu")"
    row "server CPU ms per MB ingested" "$r_streamd_cpumb" "$r_nginx_cpumb" "$(ratio "$r_streamd_cpumb" "$r_nginx_cpumb")"
    row "VmHWM idle -> after, MB" "$r_streamd_hwm0 -> $r_streamd_hwm1" "$r_nginx_hwm0 -> $r_nginx_hwm1" ""
    row "peak RSS per stream, kB" "$r_streamd_rss" "$r_nginx_rss" "$(ratio "$r_streamd_rss" "$r_nginx_rss")"
    row "segments listed (mean EXTINF s)" "$r_streamd_segs ($r_streamd_segavg)" "$r_nginx_segs ($r_nginx_segavg)" ""
    row "closing keyframe sent -> playlist, median ms" "$(lat_field lag_med "$sl")" "$(lat_field lag_med "$nl")" "$(diff_ms "$(lat_field lag_med "$sl")" "$(lat_field lag_med "$nl")")"
    row "closing keyframe sent -> playlist, p95 ms" "$(lat_field lag_p95 "$sl")" "$(lat_field lag_p95 "$nl")" "$(diff_ms "$(lat_field lag_p95 "$sl")" "$(lat_field lag_p95 "$nl")")"
    row "closing keyframe sent -> playlist, max ms" "$(lat_field lag_max "$sl")" "$(lat_field lag_max "$nl")" ""
    row "segment last write -> playlist, med/p95 ms" "$(lat_field pl_med "$sl") / $(lat_field pl_p95 "$sl")" "$(lat_field pl_med "$nl") / $(lat_field pl_p95 "$nl")" ""
    row "segments timed (+ last ones, not timed)" "$(lat_field timed "$sl") (+$(lat_field final "$sl"))" "$(lat_field timed "$nl") (+$(lat_field final "$nl"))" ""
    row "server threads / processes half way" "$r_streamd_threads threads" "$r_nginx_procs procs" ""
    row "server log lines at warn+" "$r_streamd_logwarn" "" ""
    local who
    for who in streamd nginx; do
        local others_var="r_${who}_others" wall_var="r_${who}_wall"
        awk -v o="${!others_var}" -v w="${!wall_var}" -v c="$(nproc)" 'BEGIN { exit !(o > 0.05 * w * c) }' &&
            echo "warning: other programs used ${!others_var} CPU s during the $who run (of $(nproc) x ${!wall_var} s): its numbers are disturbed"
    done
    echo "$counter_result"
}

echo "$("$STREAMD" --version 2>/dev/null | head -n1 || true) ($STREAMD), nginx $("$NGINX_BIN" -v 2>&1 | sed 's|.*/||')" \
    "+ libnginx-mod-rtmp $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?'), $(ffmpeg -version | awk 'NR == 1 {print $1, $3}')"
echo "nproc=$(nproc), CPU $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), NS=\"$NS\" DURATION=$DURATION POLL_MS=$POLL_MS SETTLE=$SETTLE"
echo "input: $input_bytes bytes, $input_seconds s, $input_mbps Mbps (H.264 1280x720 30 fps GOP 60 + AAC)"

summary=()
for n in $NS; do
    note "N=$n: streamd"
    run_streamd "$n"
    note "N=$n: nginx-rtmp"
    run_nginx "$n"
    print_table "$n"
    summary+=("N=$n: CPU/MB ratio $(ratio "$r_streamd_cpumb" "$r_nginx_cpumb"), RSS/stream ratio $(ratio "$r_streamd_rss" "$r_nginx_rss"), publishers complete streamd $r_streamd_ok/$n nginx $r_nginx_ok/$n, ${counter_result%%$'\n'*}")
done

echo
printf '%s\n' "${summary[@]}"
if [ "$counter_all_pass" = 1 ]; then
    echo "counter check: PASS (every streamd session exact at every N)"
else
    echo "counter check: FAIL (see the counters lines above)"
fi
echo
streamd_env=""
[ "$STREAMD" = build/streamd ] || streamd_env="STREAMD=$STREAMD "
echo "rerun: ${streamd_env}NS=\"$NS\" DURATION=$DURATION POLL_MS=$POLL_MS SETTLE=$SETTLE bench/ingest.sh"
