# Helpers every bench script shares: messages, free loopback ports, process CPU. Sourced by
# bench/*.sh after they set BENCH_NAME (their own name, for messages) and tmp (their scratch dir).

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}
note() { echo "$BENCH_NAME: $*" >&2; }

# Sets the variable named $1 to a TCP port nobody listens on now and no earlier call handed out
# (small race with other programs; fine for a local bench). Not called in $(...), so that
# used_ports survives.
used_ports=""
free_port() { # variable
    local candidate _
    for _ in $(seq 1 200); do
        candidate=$((20000 + RANDOM % 40000))
        case " $used_ports " in *" $candidate "*) continue ;; esac
        if [ -z "$(ss -Hltn "sport = :$candidate" 2>/dev/null)" ]; then
            used_ports="$used_ports $candidate"
            printf -v "$1" '%s' "$candidate"
            return 0
        fi
    done
    die "no free port found"
}

clock_ticks=$(getconf CLK_TCK)

# user+system clock ticks of the given processes (all their threads).
cpu_ticks() { # pid...
    local pid total=0 fields
    for pid in "$@"; do
        fields=$(sed 's/.*) //' "/proc/$pid/stat")
        total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
    done
    echo "$total"
}

# CPU seconds (user+sys) of this shell's reaped children so far (bash `times`, second line).
# `times` must run in this shell, not in a $(...) subshell (which starts from zero), hence the
# file; the result goes to CHILDREN_CPU_S.
CHILDREN_CPU_S=0
children_cpu_s() {
    times >"$tmp/times.txt"
    CHILDREN_CPU_S=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$tmp/times.txt")
}

# Builds $STREAMD (the release binary) when it is missing.
ensure_streamd() {
    [ -x "$STREAMD" ] && return 0
    note "$STREAMD missing; running make build"
    make -C "$repo" build >&2
    [ -x "$STREAMD" ] || die "$STREAMD still missing after make build"
}

# Stops the given processes: TERM to all, then waits for each (empty arguments are skipped).
stop_processes() { # pid...
    local pid
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        wait "$pid" 2>/dev/null || true
    done
}

# Removes the scratch directory, or keeps it and says where with KEEP_TMP=1.
remove_tmp() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then note "kept $tmp"; else rm -rf "$tmp"; fi
}

# Makes the scratch directory $tmp (streamd-NAME.XXXXXX) and, at exit, stops the processes that
# the script's bench_processes function prints and removes $tmp.
start_scratch() { # name
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamd-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    # shellcheck disable=SC2046 # one pid a word
    stop_processes $(bench_processes)
    remove_tmp
}

http_200() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ]; }
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# Waits up to 10 s for a server to start: until `check arg` succeeds (http_200 URL, listening
# PORT). Dies with the server's log when it exits first or is not ready in time.
wait_ready() { # check arg log_file pid name
    local _
    for _ in $(seq 1 100); do
        "$1" "$2" && return 0
        kill -0 "$4" 2>/dev/null || {
            cat "$3" >&2
            die "$5 exited during start-up"
        }
        sleep 0.1
    done
    cat "$3" >&2
    die "$5 not ready ($1 $2) after 10 s"
}
