#!/usr/bin/env bash
# Installs the Debian packages streamd needs, only when some are missing (idempotent).
# Usage: scripts/install-deps.sh [run|test]   (test adds what the test suite and benches need)
set -euo pipefail
mode=${1:-run}
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libssl-dev libcurl4-openssl-dev
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libx264-dev)
if [ "$mode" = test ]; then
    pkgs+=(libcriterion-dev clang libclang-rt-dev nodejs npm curl ffmpeg sqlite3 wrk nginx-light libnginx-mod-stream jq postgresql-15
              gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
              gstreamer1.0-plugins-ugly)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# nodejs/npm may come from outside Debian's packages (a newer node already on PATH): accept it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    filtered=()
    for p in "${missing[@]}"; do
        case "$p" in nodejs | npm) ;; *) filtered+=("$p") ;; esac
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
