#!/usr/bin/env bash
# Transcoding benchmark: CPU seconds per source second of streamd's default 4-rung ladder (240p0,
# 360p0, 480p0, 720p0; libx264, ABR with VBV) on a 1080p30 and a 720p30 H.264/AAC source, next to
# the ffmpeg CLI doing the same ladder with the same x264 settings (one decode, split + scale, four
# libx264 outputs, audio copied) in the same run. Prints the streamd/ffmpeg CPU ratio and the
# realtime factor of both. Goal (issue 5): streamd <= 0.85x ffmpeg's CPU.
#
# Per source (generated once per run from lavfi, the same file for every measurement):
#   1. streamd, stream with `profiles: []` (passthrough): `ffmpeg -re -c copy` publishes the file
#      over RTMP; streamd's CPU (user+sys from /proc/PID/stat) from just before the publish until
#      the session has ended = the cost of ingest + source segments.
#   2. streamd, stream with the default ladder, same publish: CPU the same way. "gross" is that per
#      source second, "net" is gross minus the passthrough run (transcoding only). Also read:
#      streamd's own accounting (health metrics TranscodeCpuSecondsPerMediaSecond, decode +
#      each rendition) and the transcode time of every source segment (debug log), from which the
#      realtime factor = media seconds / seconds spent transcoding them. The run is only valid
#      when no segment was dropped or failed: TranscodeDroppedSegments absent, transcodedSegments
#      = 4 x sourceSegments, every rendition playlist as long as the source's and ended.
#   3. ffmpeg CLI, as fast as it goes (no -re): one decode (-threads 1, as streamd's decoder),
#      `split=4` and one `scale` per rung from the source picture (the issue's reference), four
#      libx264 outputs with the very options streamd sets, HLS 2 s segments. CPU from bash `time`;
#      realtime factor = source seconds / wall seconds.
#   4. (REF_CASCADE=1, default) ffmpeg again with streamd's scale cascade (each rung scaled from
#      the next larger one, as streamd's log reports its plan): shows how much of the difference
#      is the cascade and how much the rest.
#   5. (BREAKDOWN=1, default) ffmpeg decode only, and decode + each filter graph into null outputs
#      (no encoding): splits ffmpeg's CPU into decode, scaling and x264 (the rest), and gives the
#      floor for this ladder with streamd's plan = decode + cascade scaling + the same x264 work.
#      With identical x264 settings no implementation can go much below that floor.
# The rung sizes and scale parents given to ffmpeg are read from streamd's own plan (its log), and
# the x264 option strings (the SEI x264 writes into the first IDR) of every streamd rendition and
# every ffmpeg output are compared: the script says whether they are identical.
#
# Every measurement also says how much CPU other processes took meanwhile ("others": machine-wide
# busy time from /proc/stat minus the measured processes'); the table flags a source as
# "disturbed" when that exceeded 10% of the machine. Exit status 2 when a streamd run dropped or
# failed segments (its CPU figures are then not comparable).
#
# Usage: bench/transcode.sh            (from the repo root or anywhere; about 3 minutes)
# Env:   DURATION=20 (source seconds)  SOURCES="1080 720"  CONTENT=noisy|clean  PRESET=veryfast
#        REF_CASCADE=1  BREAKDOWN=1  STREAMD=build/streamd  KEEP_TMP=0
# Needs ffmpeg/ffprobe with libx264, curl, jq, ss. Results and their meaning: bench/RESULTS.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

DURATION=${DURATION:-20}
SOURCES=${SOURCES:-1080 720}
CONTENT=${CONTENT:-noisy}
PRESET=${PRESET:-veryfast}
REF_CASCADE=${REF_CASCADE:-1}
BREAKDOWN=${BREAKDOWN:-1}
STREAMD=${STREAMD:-build/streamd}
KEEP_TMP=${KEEP_TMP:-0}
SEGMENT_S=2 # streamd's default --segment-seconds; the sources have an IDR every 2 s

BENCH_NAME=bench/transcode.sh
. "$repo/bench/lib/common.sh"

[[ $DURATION =~ ^[1-9][0-9]*$ ]] && [ "$DURATION" -ge 6 ] && [ "$DURATION" -le 600 ] ||
    die "DURATION must be whole seconds in 6..600 (got '$DURATION')"
for s in $SOURCES; do
    case $s in 1080 | 720) ;; *) die "SOURCES lists 1080 and/or 720 (got '$s')" ;; esac
done
case $CONTENT in noisy | clean) ;; *) die "CONTENT is noisy or clean (got '$CONTENT')" ;; esac
case $PRESET in
    ultrafast | superfast | veryfast | faster | fast | medium | slow | slower | veryslow | placebo) ;;
    *) die "PRESET must be an x264 preset (got '$PRESET')" ;;
esac

# --- tools ------------------------------------------------------------------------------------
missing=()
for tool in ffmpeg ffprobe curl jq ss awk; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ "${#missing[@]}" -eq 0 ] ||
    die "missing ${missing[*]}; install with: sudo apt-get install -y ffmpeg curl jq iproute2 gawk"
[[ $(ffmpeg -hide_banner -encoders 2>/dev/null) == *libx264* ]] || die "this ffmpeg has no libx264"

ensure_streamd

# --- temp dir, processes, cleanup -------------------------------------------------------------
start_scratch transcode
streamd_pid=""
child_pid=""
bench_processes() { echo $child_pid $streamd_pid; }

now_s() { date +%s.%N; }
# Machine-wide busy and steal clock ticks (/proc/stat "cpu" line: user nice system idle iowait irq
# softirq steal). Busy ticks during a measurement minus the measured processes' own = CPU that
# something else took meanwhile (the rest of the machine, or this script's curl/jq): printed as
# "others", a run with a lot of it is disturbed.
sys_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
others_pct() { # "others X CPU-s (Y% of the machine)..." -> Y
    sed -n 's/.*(\([0-9.]*\)% of the machine.*/\1/p' <<<"$1"
}
others() { # sys_ticks_before sys_ticks_after measured_cpu_s wall_s -> "others X s (Y% of the machine), steal Z s"
    awk -v b="$1" -v a="$2" -v m="$3" -v w="$4" -v hz="$clock_ticks" -v n="$(nproc)" 'BEGIN {
        split(b, x, " "); split(a, y, " "); o = (y[1] - x[1]) / hz - m; if (o < 0) o = 0
        printf "others %.2f CPU-s (%.1f%% of the machine), steal %.2f s", o, 100 * o / (w * n), (y[2] - x[2]) / hz }'
}
fmt() { awk -v v="$1" -v f="${2:-%.3f}" 'BEGIN { printf f, v }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN { if (b == 0) print "n/a"; else printf f, a / b }'; }

# --- sources ----------------------------------------------------------------------------------
# testsrc2 (moving shapes, colour bars, a counter) is easy for x264: large flat areas it codes as
# skip blocks. CONTENT=noisy (default) adds temporal grain (noise=alls=8:allf=t+u: a new uniform
# noise field every frame, like a camera sensor), so no macroblock is static and x264 has to work on
# every one of them, closer to a camera picture; CONTENT=clean is plain testsrc2. The encode is
# what OBS does by default: x264 veryfast, High, 3 B-frames, VBV, IDR every 2 s; AAC 128k 48 kHz.
make_source() { # height file
    local h=$1 file=$2 w rate
    case $h in
        1080) w=1920 rate=6000 ;;
        720) w=1280 rate=4000 ;;
    esac
    local video="testsrc2=size=${w}x${h}:rate=30"
    [ "$CONTENT" = noisy ] && video="$video,noise=alls=8:allf=t+u"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "$video" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DURATION" \
        -map 0:v -map 1:a -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
        -b:v "${rate}k" -maxrate "${rate}k" -bufsize "$((2 * rate))k" \
        -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k -ac 2 -f flv "$file" ||
        die "could not generate the ${h}p source"
}

# --- streamd runs -----------------------------------------------------------------------------
# Results go to R[<label>.<key>].
declare -A R

start_streamd() { # dir
    local dir=$1
    api_key=$(cat /proc/sys/kernel/random/uuid)
    free_port http_port
    free_port rtmp_port
    base="http://127.0.0.1:$http_port"
    mkdir -p "$dir/data"
    # debug: the transcoder logs each source segment's transcode time (one line per segment; the
    # other debug lines are per connection or per HTTP request, a handful in a run). --hls-window 0
    # lists every segment, so playlists can be counted whole.
    "$STREAMD" --data "$dir/data" --http "127.0.0.1:$http_port" --rtmp "127.0.0.1:$rtmp_port" \
        --public-url "$base" --api-key "$api_key" --log-level debug --hls-window 0 \
        --x264-preset "$PRESET" >"$dir/streamd.log" 2>&1 &
    streamd_pid=$!
    wait_ready http_200 "$base/healthz" "$dir/streamd.log" "$streamd_pid" streamd
}

stop_streamd() {
    kill -TERM "$streamd_pid" 2>/dev/null || true
    wait "$streamd_pid" 2>/dev/null || true
    streamd_pid=""
}

api() { # method path [body]
    local args=(-s -H "Authorization: Bearer $api_key")
    [ $# -ge 3 ] && args+=(-X "$1" -H 'Content-Type: application/json' -d "$3")
    [ $# -lt 3 ] && args+=(-X "$1")
    curl "${args[@]}" "$base$2"
}

# Publishes src into a fresh streamd with the given stream body and measures it.
streamd_run() { # label source_file create_body
    local label=$1 src=$2 body=$3 dir="$tmp/$1"
    mkdir -p "$dir"
    start_streamd "$dir"
    local created id key playback
    created=$(api POST /api/stream "$body")
    id=$(jq -r '.id // empty' <<<"$created")
    key=$(jq -r '.streamKey // empty' <<<"$created")
    playback=$(jq -r '.playbackId // empty' <<<"$created")
    [ -n "$id" ] && [ -n "$key" ] && [ -n "$playback" ] || die "POST /api/stream answered: $created"
    R[$label.profiles]=$(jq -c '[.profiles[] | "\(.name) \(.width)x\(.height) \(.bitrate) \(.profile)"]' <<<"$created")

    local t0 t1 ticks0 ticks1 sys0 sys1 pub0 _
    children_cpu_s
    pub0=$CHILDREN_CPU_S
    sys0=$(sys_ticks)
    ticks0=$(cpu_ticks "$streamd_pid")
    t0=$(now_s)
    ffmpeg -nostdin -hide_banner -loglevel error -re -i "$src" -c copy -f flv \
        "rtmp://127.0.0.1:$rtmp_port/live/$key" >"$dir/publisher.log" 2>&1 &
    child_pid=$!
    wait "$child_pid" || {
        cat "$dir/publisher.log" >&2
        die "$label: the publisher failed"
    }
    child_pid=""
    children_cpu_s
    R[$label.publisher_cpu_s]=$(awk -v a="$pub0" -v b="$CHILDREN_CPU_S" 'BEGIN { printf "%.2f", b - a }')
    R[$label.publish_s]=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
    # The session ends (isActive false) once the renditions of every queued segment are written
    # and the playlists ended.
    for _ in $(seq 1 1200); do
        [ "$(api GET "/api/stream/$id" | jq -r '.isActive')" = false ] && break
        kill -0 "$streamd_pid" 2>/dev/null || die "$label: streamd exited (log: $dir/streamd.log)"
        sleep 0.1
    done
    [ "$(api GET "/api/stream/$id" | jq -r '.isActive')" = false ] ||
        die "$label: the session is still active 120 s after the publisher ended"
    ticks1=$(cpu_ticks "$streamd_pid")
    sys1=$(sys_ticks)
    t1=$(now_s)
    R[$label.wall_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    R[$label.cpu_s]=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clock_ticks" 'BEGIN { printf "%.2f", t / hz }')
    R[$label.others]=$(others "$sys0" "$sys1" "$(awk -v a="${R[$label.cpu_s]}" -v b="${R[$label.publisher_cpu_s]}" 'BEGIN { print a + b }')" "${R[$label.wall_s]}")

    local stream health
    stream=$(api GET "/api/stream/$id")
    health=$(api GET "/data/stream/$id/health")
    R[$label.source_segments]=$(jq -r '.sourceSegments' <<<"$stream")
    R[$label.source_s]=$(jq -r '.sourceSegmentsDuration' <<<"$stream")
    R[$label.transcoded_segments]=$(jq -r '.transcodedSegments' <<<"$stream")
    R[$label.transcoded_bytes]=$(jq -r '.transcodedBytes' <<<"$stream")
    R[$label.healthy]=$(jq -r '.healthy.status' <<<"$health")
    R[$label.dropped]=$(jq -r '.metrics.TranscodeDroppedSegments[0].last[1] // 0' <<<"$health")
    R[$label.rt_last]=$(jq -r '.metrics.TranscodeRealtimeRatio[0].last[1] // 0' <<<"$health")
    R[$label.own]=$(jq -r '[.metrics.TranscodeCpuSecondsPerMediaSecond[]? |
        "\(.dimensions.rendition // .dimensions.stage)=\(.last[1] * 1000 | round / 1000)"] | join(" ")' <<<"$health")
    R[$label.own_sum]=$(jq -r '[.metrics.TranscodeCpuSecondsPerMediaSecond[]?.last[1]] | add // 0' <<<"$health")
    R[$label.cpu_per_s]=$(div "${R[$label.cpu_s]}" "${R[$label.source_s]}" %.4f)

    local live="$dir/data/live/$playback" log="$dir/streamd.log"
    R[$label.dir]=$live
    R[$label.playlist_source]=$(grep -c '^[^#]' "$live/source/index.m3u8" || true)
    # Transcode time of each source segment: "source segment N done in X s for Y s of media".
    R[$label.rt]=$(awk '/source segment [0-9]+ done in/ {
        for (i = 1; i <= NF; i++) { if ($i == "in") e = $(i + 1); if ($i == "for") m = $(i + 1) }
        te += e; tm += m; n++; r = m / e; if (n == 1 || r < worst) worst = r }
        END { if (n) printf "%.2f %.2f %d", tm / te, worst, n; else print "0 0 0" }' "$log")
    # Plan: "720p0: 1280x720 at 30/1 fps, 3000000 bit/s, scaled from source", largest first.
    R[$label.plan]=$(sed -n 's/.*\[transcoder\] [^ ]*: \([^ :]*\): \([0-9]*\)x\([0-9]*\) at [0-9/]* fps, \([0-9]*\) bit\/s, scaled from \(.*\)$/\1 \2 \3 \4 \5/p' "$log")
    R[$label.warnings]=$(grep -E '^[^ ]+ (warn|error)' "$log" || true)
    stop_streamd
}

# Checks a ladder run; sets R[label.valid] and R[label.problems].
check_ladder_run() { # label rungs
    local label=$1 rungs=$2 problems=() live=${R[$1.dir]} src_n=${R[$1.source_segments]} name n
    [ "${R[$label.playlist_source]}" = "$src_n" ] ||
        problems+=("source playlist lists ${R[$label.playlist_source]} segments, sourceSegments=$src_n")
    [ "${R[$label.dropped]}" = 0 ] || problems+=("TranscodeDroppedSegments=${R[$label.dropped]}")
    [ "${R[$label.transcoded_segments]}" = "$((src_n * rungs))" ] ||
        problems+=("transcodedSegments=${R[$label.transcoded_segments]}, expected $src_n x $rungs")
    local bytes=0 size
    for name in $(awk '{print $1}' <<<"${R[$label.plan]}"); do
        n=$(grep -c '^[^#]' "$live/$name/index.m3u8" 2>/dev/null || true)
        [ "$n" = "$src_n" ] || problems+=("$name playlist lists ${n:-0} segments, source $src_n")
        grep -q '^#EXT-X-ENDLIST' "$live/$name/index.m3u8" 2>/dev/null ||
            problems+=("$name playlist not ended")
        size=$(cat "$live/$name"/*.ts | wc -c)
        R[$label.bytes.$name]=$size
        bytes=$((bytes + size))
    done
    [ "$bytes" = "${R[$label.transcoded_bytes]}" ] ||
        problems+=("transcodedBytes=${R[$label.transcoded_bytes]}, rendition files hold $bytes bytes")
    [ "$(awk '{print $3}' <<<"${R[$label.rt]}")" = "$src_n" ] ||
        problems+=("$(awk '{print $3}' <<<"${R[$label.rt]}") segments reported done for $src_n source segments")
    grep -qE 'not transcoded|dropped from the renditions|failed' <<<"${R[$label.warnings]}" &&
        problems+=("streamd logged transcode failures or drops")
    if [ "${#problems[@]}" -eq 0 ]; then
        R[$label.valid]=1
        R[$label.problems]=""
    else
        R[$label.valid]=0
        R[$label.problems]=$(printf '%s; ' "${problems[@]}")
    fi
}

# --- ffmpeg reference -------------------------------------------------------------------------
# x264 options exactly as src/media/transcoder.c sets them (encoder_options/encoder_settings):
# preset, profile high (H264ConstrainedHigh = High without B-frames), forced-idr, rc-lookahead 0,
# x264-params sync-lookahead=0:force-cfr=1:keyint=infinite (no gop in the default ladder), bf 0,
# one x264 thread per rung, ABR b=maxrate=bitrate, bufsize=2 x bitrate, yuv420p; an IDR at each
# 2 s segment start (streamd forces one at each source segment start; the sources have an IDR
# every 2 s, so both put them at the same frames). Frames pass through at the source rate
# (-fps_mode passthrough, as streamd's fps 0 rungs). bicubic scaling (streamd: SWS_BICUBIC).
x264_args() { # bitrate_bps -> the array X264_ARGS
    local kbps=$(($1 / 1000))
    X264_ARGS=(-c:v libx264 -preset "$PRESET" -profile:v high -threads 1 -bf 0 -rc-lookahead 0
        -forced-idr 1 -x264-params sync-lookahead=0:force-cfr=1:keyint=infinite
        -b:v "${kbps}k" -maxrate "${kbps}k" -bufsize "$((2 * kbps))k" -pix_fmt yuv420p
        -force_key_frames "expr:gte(t,n_forced*$SEGMENT_S)" -fps_mode passthrough)
}

# The filter graph for a plan ("name w h bitrate parent" lines, parents first). mode split: every
# rung scaled from the decoded source (split=N); cascade: from its parent in streamd's plan.
filter_graph() { # plan mode source_w source_h
    local plan=$1 mode=$2 sw=$3 sh=$4 graph="" name w h br parent
    declare -A kids=()
    declare -A input=()
    while read -r name w h br parent; do
        [ "$mode" = split ] && parent=source
        kids[$parent]="${kids[$parent]:-} $name"
    done <<<"$plan"
    # the source's consumers
    local -a src_kids
    read -r -a src_kids <<<"${kids[source]}"
    if [ "${#src_kids[@]}" -eq 1 ]; then
        input[${src_kids[0]}]="[0:v]"
    else
        graph="[0:v]split=${#src_kids[@]}"
        for name in "${src_kids[@]}"; do
            graph="${graph}[in_$name]"
            input[$name]="[in_$name]"
        done
        graph="$graph;"
    fi
    while read -r name w h br parent; do
        local -a mine
        read -r -a mine <<<"${kids[$name]:-}"
        local chain="${input[$name]}"
        if [ "$mode" = split ] || [ "$parent" = source ]; then
            [ "$w" = "$sw" ] && [ "$h" = "$sh" ] && chain="${chain}null" ||
                chain="${chain}scale=$w:$h:flags=bicubic"
        else
            chain="${chain}scale=$w:$h:flags=bicubic"
        fi
        if [ "${#mine[@]}" -gt 0 ]; then
            chain="$chain,split=$((1 + ${#mine[@]}))[out_$name]"
            local k
            for k in "${mine[@]}"; do
                chain="${chain}[in_$k]"
                input[$k]="[in_$k]"
            done
        else
            chain="${chain}[out_$name]"
        fi
        graph="$graph$chain;"
    done <<<"$plan"
    echo "${graph%;}"
}

# Runs an ffmpeg command line (array) and times it: R[label.cpu_s], .wall_s, .others.
timed_ffmpeg() { # label dir cmd...
    local label=$1 dir=$2
    shift 2
    local TIMEFORMAT='%3R %3U %3S' times sys0
    sys0=$(sys_ticks)
    if ! { time "$@" >"$dir/ffmpeg.log" 2>&1; } 2>"$dir/time.txt"; then
        cat "$dir/ffmpeg.log" >&2
        die "$label: ffmpeg failed"
    fi
    times=$(tail -n1 "$dir/time.txt")
    R[$label.wall_s]=$(awk '{print $1}' <<<"$times")
    R[$label.cpu_s]=$(awk '{printf "%.2f", $2 + $3}' <<<"$times")
    R[$label.others]=$(others "$sys0" "$(sys_ticks)" "${R[$label.cpu_s]}" "${R[$label.wall_s]}")
}

ffmpeg_run() { # label source_file plan mode source_w source_h source_segments
    local label=$1 src=$2 plan=$3 mode=$4 dir="$tmp/$1" name w h br parent
    mkdir -p "$dir"
    local -a cmd=(ffmpeg -nostdin -hide_banner -loglevel error -y -threads 1 -i "$src"
        -filter_complex_threads 1 -filter_complex "$(filter_graph "$plan" "$mode" "$5" "$6")")
    while read -r name w h br parent; do
        mkdir -p "$dir/$name"
        x264_args "$br"
        cmd+=(-map "[out_$name]" -map 0:a "${X264_ARGS[@]}" -c:a copy
            -f hls -hls_time "$SEGMENT_S" -hls_list_size 0 -hls_segment_type mpegts
            -hls_segment_filename "$dir/$name/%05d.ts" "$dir/$name/index.m3u8")
    done <<<"$plan"
    R[$label.cmd]=$(printf '%q ' "${cmd[@]}")
    timed_ffmpeg "$label" "$dir" "${cmd[@]}"
    local problems=() n
    while read -r name w h br parent; do
        n=$(grep -c '^[^#]' "$dir/$name/index.m3u8" || true)
        [ "$n" = "$7" ] || problems+=("$name has $n segments, source $7")
        R[$label.bytes.$name]=$(cat "$dir/$name"/*.ts | wc -c)
    done <<<"$plan"
    R[$label.problems]=$(printf '%s; ' "${problems[@]+"${problems[@]}"}")
    [ "${R[$label.problems]}" = "; " ] && R[$label.problems]=""
    R[$label.dir]=$dir
}

# Where ffmpeg's CPU goes (BREAKDOWN=1): the same decode, and the same decode + filter graph with
# every rung sent to the null muxer (wrapped_avframe, no encoding), timed like the real runs. The
# x264 share is the full run minus decode + scale.
ffmpeg_parts() { # label source_file plan mode(decode|split|cascade) source_w source_h
    local label=$1 src=$2 plan=$3 mode=$4 dir="$tmp/$1" name _
    mkdir -p "$dir"
    local -a cmd=(ffmpeg -nostdin -hide_banner -loglevel error -y -threads 1 -i "$src")
    if [ "$mode" = decode ]; then
        cmd+=(-map 0:v -f null -)
    else
        cmd+=(-filter_complex_threads 1 -filter_complex "$(filter_graph "$plan" "$mode" "$5" "$6")")
        while read -r name _; do
            cmd+=(-map "[out_$name]" -f null -)
        done <<<"$plan"
    fi
    timed_ffmpeg "$label" "$dir" "${cmd[@]}"
}

# Bytes of H.264 elementary stream in a rendition's segments (container overhead left out).
video_bytes() { # dir
    cat "$1"/*.ts | ffmpeg -nostdin -loglevel error -i - -map 0:v -c copy -f h264 - | wc -c
}

# x264's option string (SEI of the first frame) of a rendition's first segment.
x264_options() { # ts_file
    ffmpeg -nostdin -loglevel error -i "$1" -map 0:v -c copy -frames:v 1 -f h264 - 2>/dev/null |
        grep -a -o 'options: [ -~]*' | awk 'NR == 1' || true
}

# --- run ----------------------------------------------------------------------------------------
streamd_version=$("$STREAMD" --version 2>/dev/null | head -n1 || true)
ffmpeg_version=$(ffmpeg -version | awk 'NR == 1 {print $3}')
x264_build=$(ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=s=64x64:d=0.1 -c:v libx264 -f h264 - |
    grep -a -o 'core [0-9]* r[0-9]* [0-9a-f]*' | awk 'NR == 1' || true)
echo "$streamd_version ($STREAMD), ffmpeg $ffmpeg_version (libx264 $x264_build), nproc=$(nproc)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ladder: streamd default (API.md), x264 preset $PRESET; sources: $DURATION s, CONTENT=$CONTENT"

summary=()
row='%-7s %7s %8s %7s %6s %9s %6s %6s %7s %10s %11s  %s'
any_invalid=0
for height in $SOURCES; do
    src="$tmp/src-${height}p30.flv"
    t_gen=$(now_s)
    make_source "$height" "$src"
    IFS=, read -r sw sh <<<"$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$src")"
    src_dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$src")
    echo
    echo "== ${height}p30 source: ${sw}x${sh}, $(fmt "$src_dur" %.2f) s, testsrc2$([ "$CONTENT" = noisy ] && echo ' + grain'), x264 High $([ "$height" = 1080 ] && echo 6 || echo 4) Mb/s, IDR every 2 s, + AAC 128k (made in $(awk -v a="$t_gen" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }') s) =="

    p=pass$height
    l=ladder$height
    streamd_run "$p" "$src" '{"name":"bench","profiles":[]}'
    streamd_run "$l" "$src" '{"name":"bench"}'
    plan=${R[$l.plan]}
    rungs=$(grep -c . <<<"$plan" || true)
    [ "$rungs" -ge 1 ] || {
        cat "$tmp/$l/streamd.log" >&2
        die "no transcoding plan in streamd's log"
    }
    check_ladder_run "$l" "$rungs"
    [ "${R[$p.transcoded_segments]}" = 0 ] || note "passthrough run counted transcoded segments: ${R[$p.transcoded_segments]}"
    [ "${R[$p.source_segments]}" = "${R[$l.source_segments]}" ] ||
        note "passthrough made ${R[$p.source_segments]} source segments, ladder run ${R[$l.source_segments]}"

    ffmpeg_run "ff$height" "$src" "$plan" split "$sw" "$sh" "${R[$l.source_segments]}"
    [ "$REF_CASCADE" = 1 ] && ffmpeg_run "ffc$height" "$src" "$plan" cascade "$sw" "$sh" "${R[$l.source_segments]}"
    if [ "$BREAKDOWN" = 1 ]; then
        ffmpeg_parts "dec$height" "$src" "$plan" decode "$sw" "$sh"
        ffmpeg_parts "scs$height" "$src" "$plan" split "$sw" "$sh"
        ffmpeg_parts "scc$height" "$src" "$plan" cascade "$sw" "$sh"
    fi

    src_s=${R[$l.source_s]}
    gross=${R[$l.cpu_per_s]}
    pass=${R[$p.cpu_per_s]}
    net=$(awk -v g="$gross" -v p="$pass" 'BEGIN { printf "%.4f", g - p }')
    ff=$(div "${R[ff$height.cpu_s]}" "$src_dur" %.4f)
    ff_rt=$(div "$src_dur" "${R[ff$height.wall_s]}" %.2f)
    read -r sd_rt sd_worst _ <<<"${R[$l.rt]}"

    echo "streamd passthrough: $(fmt "$pass") CPU-s/s (${R[$p.cpu_s]} s over ${R[$p.source_s]} s: ingest + source segments; publisher ${R[$p.publisher_cpu_s]} s; ${R[$p.others]})"
    echo "streamd ladder:      $(fmt "$gross") CPU-s/s gross (${R[$l.cpu_s]} s over $src_s s), $(fmt "$net") net of passthrough"
    echo "  run: ${R[$l.wall_s]} s from publish to session end; publisher ${R[$l.publisher_cpu_s]} CPU-s; ${R[$l.others]}"
    echo "  plan: $(awk '{printf "%s%s %sx%s from %s", (NR > 1 ? ", " : ""), $1, $2, $3, $5}' <<<"$plan")"
    echo "  streamd's own accounting (health, CPU-s per media s): ${R[$l.own]} (sum $(fmt "${R[$l.own_sum]}"))"
    echo "  realtime factor ${sd_rt}x (media s / transcode s over ${R[$l.source_segments]} segments; slowest segment ${sd_worst}x; TranscodeRealtimeRatio last ${R[$l.rt_last]:0:4}), healthy=${R[$l.healthy]}"
    if [ "${R[$l.valid]}" = 1 ]; then
        echo "  valid: ${R[$l.source_segments]} source segments, each of the $rungs renditions has them all, 0 dropped, transcodedBytes = rendition files"
    else
        any_invalid=1
        echo "  INVALID for the CPU comparison: ${R[$l.problems]}"
    fi
    [ -n "${R[$l.warnings]}" ] && echo "  streamd warnings: $(head -n3 <<<"${R[$l.warnings]}" | cut -c1-200)"
    echo "ffmpeg split=$rungs:      $(fmt "$ff") CPU-s/s (${R[ff$height.cpu_s]} s), realtime factor ${ff_rt}x ($(fmt "$src_dur" %.1f) s in ${R[ff$height.wall_s]} s; ${R[ff$height.others]})${R[ff$height.problems]:+; PROBLEM: ${R[ff$height.problems]}}"
    ffc=""
    if [ "$REF_CASCADE" = 1 ]; then
        ffc=$(div "${R[ffc$height.cpu_s]}" "$src_dur" %.4f)
        echo "ffmpeg cascade:      $(fmt "$ffc") CPU-s/s (${R[ffc$height.cpu_s]} s), realtime factor $(div "$src_dur" "${R[ffc$height.wall_s]}" %.2f)x (in ${R[ffc$height.wall_s]} s; ${R[ffc$height.others]})${R[ffc$height.problems]:+; PROBLEM: ${R[ffc$height.problems]}}"
    fi
    floor=""
    if [ "$BREAKDOWN" = 1 ]; then
        read -r p_dec p_split p_casc p_x264 floor <<<"$(awk -v d="${R[dec$height.cpu_s]}" \
            -v s="${R[scs$height.cpu_s]}" -v c="${R[scc$height.cpu_s]}" -v f="${R[ff$height.cpu_s]}" \
            -v t="$src_dur" 'BEGIN { printf "%.4f %.4f %.4f %.4f %.4f", d / t, (s - d) / t, (c - d) / t,
                (f - s) / t, (c + f - s) / t }')"
        echo "ffmpeg parts:        decode $(fmt "$p_dec"), scaling split $(fmt "$p_split") / cascade $(fmt "$p_casc"), x264 + mux $(fmt "$p_x264") CPU-s/s (x264 = split run - decode - split scaling)"
        echo "  floor with streamd's plan: decode + cascade scaling + x264 = $(fmt "$floor") CPU-s/s = $(div "$floor" "$ff")x ffmpeg; streamd net is $(div "$net" "$floor")x the floor"
        echo "  (${R[dec$height.others]} / ${R[scs$height.others]} / ${R[scc$height.others]})"
    fi
    # Same x264 settings? Compare the option strings x264 wrote into each rendition.
    same=0 diffs=""
    while read -r name _; do
        a=$(x264_options "${R[$l.dir]}/$name/00000.ts")
        b=$(x264_options "${R[ff$height.dir]}/$name/00000.ts")
        if [ -n "$a" ] && [ "$a" = "$b" ]; then
            same=$((same + 1))
        else
            diffs="$diffs $name: $(diff <(tr ' ' '\n' <<<"$a") <(tr ' ' '\n' <<<"$b") | grep '^[<>]' | tr '\n' ' ')"
        fi
    done <<<"$plan"
    if [ "$same" = "$rungs" ]; then
        echo "  x264 options (SEI): identical in all $rungs renditions of streamd and ffmpeg"
    else
        echo "  x264 options (SEI) DIFFER (< streamd, > ffmpeg):$diffs"
    fi
    # Same settings should give about the same H.264 bytes (ABR); the .ts files also hold the
    # audio and the MPEG-TS overhead of each muxer.
    echo "  H.264 bytes streamd/ffmpeg: $(while read -r name _; do
        printf '%s %s  ' "$name" "$(div "$(video_bytes "${R[$l.dir]}/$name")" "$(video_bytes "${R[ff$height.dir]}/$name")" %.3f)"
    done <<<"$plan")"
    echo "  .ts bytes streamd/ffmpeg:   $(while read -r name _; do
        printf '%s %s  ' "$name" "$(div "${R[$l.bytes.$name]}" "${R[ff$height.bytes.$name]}" %.3f)"
    done <<<"$plan")"
    echo "  ffmpeg command: ${R[ff$height.cmd]//$tmp/TMP}"

    # The largest share of the machine other processes took during any measurement of this source.
    worst=0
    for k in "$p" "$l" "ff$height" "ffc$height" "dec$height" "scs$height" "scc$height"; do
        [ -n "${R[$k.others]:-}" ] || continue
        worst=$(awk -v a="$worst" -v b="$(others_pct "${R[$k.others]}")" 'BEGIN { print (b > a ? b : a) }')
    done
    disturbed=""
    [ "$(awk -v w="$worst" 'BEGIN { print (w > 10) }')" = 1 ] && disturbed=", disturbed: others took up to $worst%"
    ratio_net=$(div "$net" "$ff")
    ratio_gross=$(div "$gross" "$ff")
    ratio_c=""
    [ -n "$ffc" ] && ratio_c=$(div "$net" "$ffc")
    summary+=("$(printf "$row" "${height}p30" \
        "$(fmt "$net")" "$(fmt "$gross")" "$(fmt "$ff")" "$ratio_net" "$ratio_gross" \
        "$(fmt "$sd_rt" %.2f)x" "${ff_rt}x" "${ffc:+$(fmt "$ffc")}" "$ratio_c" \
        "${floor:+$(div "$floor" "$ff")}" \
        "$([ "${R[$l.valid]}" = 1 ] && echo valid || echo INVALID)$disturbed")")
done

echo
echo "CPU seconds per source second (net = streamd ladder run minus its passthrough run; gross = whole"
echo "streamd process, ingest included). ratio = streamd/ffmpeg split (goal <= 0.85), ratio casc = streamd"
echo "net/ffmpeg with streamd's cascade; RT = realtime factor; floor/ffmpeg: the least CPU this ladder"
echo "can take with the same x264 work (decode + cascade scaling + x264), over ffmpeg split."
echo "\"disturbed\": other processes took over 10% of the machine during a measurement (see above)."
printf "$row\n" source "sd net" "sd gross" ffmpeg ratio "ratio grs" "sd RT" "ff RT" "ff casc" \
    "ratio casc" "floor/ffmpeg" run
for line in "${summary[@]}"; do echo "$line"; done
echo
env_prefix=""
[ "$STREAMD" = build/streamd ] || env_prefix="STREAMD=$STREAMD "
echo "rerun: ${env_prefix}DURATION=$DURATION SOURCES=\"$SOURCES\" CONTENT=$CONTENT PRESET=$PRESET REF_CASCADE=$REF_CASCADE BREAKDOWN=$BREAKDOWN bench/transcode.sh"
[ "$any_invalid" = 0 ] || {
    note "at least one streamd run dropped or failed segments: its CPU figures are not comparable"
    exit 2
}
