#!/usr/bin/env bash
# API benchmark: requests/s and p99 latency of GET /api/stream/{id} on streamd, measured with wrk
# over keep-alive connections, next to nginx serving the very same JSON body as a static file.
# nginx is the reference ceiling for "answer a small HTTP GET"; the ratio says how much of that
# streamd reaches while doing auth (SHA-256 key, cached), a store read and JSON serialization.
# streamd runs twice in the same script: on SQLite, then on PostgreSQL (a throwaway cluster that
# tests/pg/cluster.sh starts), whose CPU column counts the database server's processes too.
#
# Usage: bench/api.sh            (from the repo root or anywhere)
# Env:   DURATION=10s  WARMUP=2s  CONNECTIONS=32  THREADS=2  NGINX_WORKERS=<nproc>  STREAMD=build/streamd
#        PG=1 (0: SQLite and nginx only)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

PG=${PG:-1}
# The PostgreSQL column needs a server: run this script again inside a throwaway cluster.
if [ "$PG" = 1 ] && [ -z "${STREAMD_TEST_DB:-}" ]; then
    exec "$repo/tests/pg/cluster.sh" "$repo/bench/api.sh" "$@"
fi

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
STREAMD=${STREAMD:-build/streamd}
# Fairness: streamd answers HTTP on libmicrohttpd's internal thread pool, one thread per core by
# default (--http-threads 0); nginx gets one worker process per core, so both can use the same CPUs.
# Set NGINX_WORKERS=1 to compare against a single worker if streamd runs with --http-threads 1.
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}

BENCH_NAME=bench/api.sh
. "$repo/bench/lib/common.sh"

# --- tools ------------------------------------------------------------------------------------
need_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ -x scripts/install-deps.sh ]; then
        echo "bench/api.sh: missing ${missing[*]}; running scripts/install-deps.sh test" >&2
        scripts/install-deps.sh test
    else
        die "missing ${missing[*]}; install with: sudo apt-get install -y wrk nginx-light curl"
    fi
}
need_tools
NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

ensure_streamd

# --- temp dir, processes, cleanup -------------------------------------------------------------
start_scratch bench
streamd_pid=""
pg_pid=""
nginx_pid=""
bench_processes() { echo $streamd_pid $pg_pid $nginx_pid; }


# --- streamd ----------------------------------------------------------------------------------
api_key=$(cat /proc/sys/kernel/random/uuid)
auth="Authorization: Bearer $api_key"

# Starts streamd (extra flags after the name) on free ports and creates one stream; sets
# <name>_pid, <name>_base and <name>_path (the measured GET).
start_streamd() { # name [flags...]
    local name=$1 http rtmp base created id
    shift
    free_port http
    free_port rtmp
    base="http://127.0.0.1:$http"
    mkdir -p "$tmp/data-$name"
    "$STREAMD" --data "$tmp/data-$name" --http "127.0.0.1:$http" --rtmp "127.0.0.1:$rtmp" \
        --public-url "$base" --api-key "$api_key" "$@" >"$tmp/$name.log" 2>&1 &
    printf -v "${name}_pid" '%s' $!
    wait_ready http_200 "$base/healthz" "$tmp/$name.log" "$!" "$name"
    created=$(curl -s -w '\n%{http_code}' -X POST -H "$auth" -H 'Content-Type: application/json' \
        -d '{"name":"bench"}' "$base/api/stream")
    [ "$(tail -n1 <<<"$created")" = 201 ] || die "$name: POST /api/stream did not answer 201: $created"
    created=$(sed '$d' <<<"$created")
    if command -v jq >/dev/null 2>&1; then
        id=$(jq -r '.id // empty' <<<"$created")
    else # first "id" key; the Stream object starts with its own id
        id=$(grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$created" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
    fi
    [ -n "$id" ] || die "$name: no id in POST /api/stream answer: $created"
    printf -v "${name}_base" '%s' "$base"
    printf -v "${name}_path" '%s' "/api/stream/$id"
}
start_streamd streamd
base=$streamd_base
path=$streamd_path
if [ "$PG" = 1 ]; then
    start_streamd pg --db "$STREAMD_TEST_DB" ${PG_FLAGS:-}
fi

# The body nginx serves is exactly what streamd answers to the measured request.
mkdir -p "$tmp/www/api/stream"
code=$(curl -s -o "$tmp/www$path" -D "$tmp/streamd-headers" -w '%{http_code}' -H "$auth" "$base$path")
[ "$code" = 200 ] || die "GET $path answered $code"
body_bytes=$(wc -c <"$tmp/www$path")
streamd_type=$(curl -s -o /dev/null -w '%{content_type}' -H "$auth" "$base$path")
# nginx repeats streamd's own headers (CORS, Vary) so both send responses of about the same size;
# Date, Content-Length and Content-Type it makes itself.
extra_headers=$(tr -d '\r' <"$tmp/streamd-headers" | awk -F': ' 'NR > 1 && NF >= 2 {
    name = tolower($1)
    if (name == "date" || name == "content-length" || name == "content-type" ||
        name == "connection" || name == "keep-alive") next
    value = substr($0, length($1) + 3); gsub(/["\\]/, "\\\\&", value)
    printf "        add_header %s \"%s\" always;\n", $1, value }')

# --- nginx ------------------------------------------------------------------------------------
free_port nginx_port
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp"
user_line=""
# Only a root master switches workers to another user (default nobody, who cannot read $tmp).
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes $NGINX_WORKERS;
daemon off;
master_process on;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    types { }
    default_type application/json;
    # streamd says "application/json; charset=utf-8"; nginx adds the same charset parameter.
    charset utf-8;
    charset_types application/json;
    server_tokens off;
    etag off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    # Default is 1000, after which nginx closes the connection; streamd keeps it open, so lift it.
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/www;
        location / {
$extra_headers
        }
    }
}
EOF
"$NGINX_BIN" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" -t \
    >"$tmp/nginx-t.log" 2>&1 || {
    cat "$tmp/nginx-t.log" >&2
    die "nginx config test failed"
}
"$NGINX_BIN" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
    >"$tmp/nginx.log" 2>&1 &
nginx_pid=$!
nginx_base="http://127.0.0.1:$nginx_port"
wait_ready http_200 "$nginx_base$path" "$tmp/nginx/logs/error.log" "$nginx_pid" nginx
curl -s -H "$auth" "$nginx_base$path" | cmp -s - "$tmp/www$path" || die "nginx body differs from streamd's"
nginx_type=$(curl -s -o /dev/null -w '%{content_type}' "$nginx_base$path")
[ "$nginx_type" = "$streamd_type" ] || die "Content-Type differs: streamd '$streamd_type', nginx '$nginx_type'"
response_bytes() { curl -s -o /dev/null -w '%{size_header}+%{size_download}' -H "$auth" "$1"; }

# --- measure ----------------------------------------------------------------------------------
# Latency like "635.91us", "1.20ms", "2.00s", "1.00m" -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { print "bad"; exit }
        printf "%.3f", n }'
}

thread_count() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l; }

# CPU time (user+system, clock ticks) of the processes serving a target: streamd itself, or nginx's
# master and workers. Divided by requests it gives server CPU per request, which the shared cores
# disturb less than req/s does.
server_pids() { # name
    case $1 in
    streamd) echo "$streamd_pid" ;;
    pg) # streamd and the database cluster's postmaster and backends
        local postmaster
        postmaster=$(head -n1 "$STREAMD_TEST_PG_DATA/postmaster.pid")
        echo "$pg_pid" "$postmaster" $(pgrep -P "$postmaster") ;;
    *) echo "$nginx_pid" $(pgrep -P "$nginx_pid") ;;
    esac
}

rps_streamd="" p99_streamd="" req_streamd="" cpu_streamd="" rps_nginx="" p99_nginx="" req_nginx="" cpu_nginx=""
rps_pg="" p99_pg="" req_pg="" cpu_pg="" own_cpu_pg=""
run_wrk() { # name url -> sets rps_<name>, p99_<name>, req_<name>, cpu_<name> (server CPU us/request)
    local name=$1 url=$2 out="$tmp/wrk-$1.txt"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "$auth" "$url" >/dev/null
    local pids ticks_before ticks_after own_before own_after
    read -r -a pids <<<"$(server_pids "$name")"
    ticks_before=$(cpu_ticks "${pids[@]}")
    own_before=$(cpu_ticks "${pids[0]}")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$auth" "$url" >"$out"
    ticks_after=$(cpu_ticks "${pids[@]}")
    own_after=$(cpu_ticks "${pids[0]}")
    local rps p99 non2xx sockerr
    # wrk's "Non-2xx or 3xx responses" counts statuses >= 400; a 3xx would pass unseen, which is
    # why the request is also checked for exactly 200 with curl before and after the run.
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
    sockerr=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
    if [ -z "$rps" ] || [ -z "$p99" ] || [ "$(to_ms "$p99")" = bad ]; then
        cat "$out" >&2
        die "could not parse wrk output for $name"
    fi
    if [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
        cat "$out" >&2
        die "$name answered $non2xx requests with a non-2xx status"
    fi
    if [ -n "$sockerr" ] && [ "$sockerr" != 0 ]; then
        cat "$out" >&2
        die "$name: wrk reported $sockerr socket errors"
    fi
    printf -v "rps_$name" '%s' "$rps"
    printf -v "p99_$name" '%s' "$(to_ms "$p99")"
    printf -v "req_$name" '%s' "$(awk '/requests in/ {print $1}' "$out")"
    printf -v "cpu_$name" '%s' "$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clock_ticks" \
        -v n="$(awk '/requests in/ {print $1}' "$out")" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
    # The first process alone (streamd without its database), for the PostgreSQL row.
    printf -v "own_cpu_$name" '%s' "$(awk -v t=$((own_after - own_before)) -v hz="$clock_ticks" \
        -v n="$(awk '/requests in/ {print $1}' "$out")" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
}

echo "$("$STREAMD" --version 2>/dev/null | head -n1 || true) ($STREAMD), nginx $("$NGINX_BIN" -v 2>&1 | sed 's|.*/||'), $(wrk --version 2>&1 | head -n1 | awk '{print $1, $2}')"
echo "GET $path  (${body_bytes}-byte JSON body, $streamd_type, Authorization: Bearer header on both)"
echo "response bytes headers+body: streamd $(response_bytes "$base$path"), nginx $(response_bytes "$nginx_base$path")"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warmup each); nproc=$(nproc), streamd threads=$(thread_count "$streamd_pid"), nginx workers=$NGINX_WORKERS"
run_wrk streamd "$base$path"
streamd_threads_loaded=$(thread_count "$streamd_pid")
[ "$PG" = 1 ] && run_wrk pg "$pg_base$pg_path"
run_wrk nginx "$nginx_base$path"

# Body still served, servers still alive after the load.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$base$path")" = 200 ] ||
    die "streamd no longer answers 200 after the run"
[ "$PG" != 1 ] || [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$pg_base$pg_path")" = 200 ] ||
    die "streamd on PostgreSQL no longer answers 200 after the run"

echo
printf '%-10s %12s %10s %12s %18s\n' target req/s "p99 ms" requests "server CPU us/req"
printf '%-10s %12.0f %10.3f %12s %18s\n' sqlite "$rps_streamd" "$p99_streamd" "$req_streamd" "$cpu_streamd"
[ "$PG" = 1 ] && printf '%-10s %12.0f %10.3f %12s %18s  (streamd alone %s)\n' postgres "$rps_pg" \
    "$p99_pg" "$req_pg" "$cpu_pg" "$own_cpu_pg"
printf '%-10s %12.0f %10.3f %12s %18s\n' nginx "$rps_nginx" "$p99_nginx" "$req_nginx" "$cpu_nginx"
awk -v a="$rps_streamd" -v b="$rps_nginx" -v c="$p99_streamd" -v d="$p99_nginx" \
    -v e="$cpu_streamd" -v f="$cpu_nginx" 'BEGIN {
    printf "ratio sqlite/nginx:   req/s %.2f   p99 %.2f   CPU/req %.2f\n", a / b, (d > 0 ? c / d : 0),
        (f > 0 ? e / f : 0) }'
[ "$PG" = 1 ] && awk -v a="$rps_pg" -v b="$rps_streamd" -v c="$p99_pg" -v d="$p99_streamd" \
    -v e="$cpu_pg" -v f="$cpu_streamd" 'BEGIN {
    printf "ratio postgres/sqlite: req/s %.2f   p99 %.2f   CPU/req %.2f (the database included)\n",
        a / b, (d > 0 ? c / d : 0), (f > 0 ? e / f : 0) }'
echo "streamd: $req_streamd requests, 0 with status >= 400, 0 socket errors, 200 with curl before and after;" \
    "$streamd_threads_loaded threads under load"
echo
streamd_env=""
[ "$STREAMD" = build/streamd ] || streamd_env="STREAMD=$STREAMD "
echo "rerun: ${streamd_env}PG=$PG DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS THREADS=$THREADS NGINX_WORKERS=$NGINX_WORKERS bench/api.sh"
