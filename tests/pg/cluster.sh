#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 cluster: initdb in a temporary directory, a
# server on its own socket directory (no TCP), one database, stopped and removed
# at the end. The command gets STREAMD_TEST_DB=postgresql:///streamd?host=SOCKDIR&port=PORT&user=U.
# Runs the server as the postgres user when the tests run as root (PostgreSQL refuses root).
# Usage: tests/pg/cluster.sh COMMAND [ARGS...]
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg/cluster.sh: PostgreSQL server binaries not found (scripts/install-deps.sh test installs postgresql-15)" >&2
    exit 1
fi
dir=$(mktemp -d /tmp/streamd-pg.XXXXXX)
chmod 755 "$dir"
as=()
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    as=(runuser -u postgres --)
    user=postgres
fi
# No TCP listener: the server takes connections on its socket in $dir only, so the port is just the
# socket's name and cannot clash with anything else on the machine.
port=5432
stop() {
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U "$user" --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
# In the configuration, not on the command line, so that a test restarting the server with pg_ctl
# gets the same one.
printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = ''\nfsync = off\n" \
    "$port" "$dir" >>"$dir/data/postgresql.conf"
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
"${as[@]}" "$bin/createdb" -h "$dir" -p "$port" -U "$user" streamd
export STREAMD_TEST_DB="postgresql:///streamd?host=$dir&port=$port&user=$user"
export STREAMD_TEST_PG_BIN=$bin STREAMD_TEST_PG_DATA=$dir/data
echo "pg/cluster.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $dir port $port"
"$@"
