#!/usr/bin/env bash
# Checks that includes between the folders of src/ point down the layers ARCHITECTURE.md draws:
# each folder may include only the folders listed for it below (and itself). "." is the
# top-level files (main, server, config, housekeeper, cluster). Prints every include that breaks a rule.
set -euo pipefail
cd "$(dirname "$0")/../src"

declare -A allowed=(
    [util]=""
    [store]="util"
    [stats]="store util"
    [media]="stats store util"
    [http]="util"
    [ingest]="media stats store util"
    [api]="http store util"
    [web]="http store util"
    [hooks]="store util"
    [.]="api web ingest hooks media stats store http util"
)

status=0
while IFS= read -r line; do
    file=${line%%:*}
    file=${file#./}
    target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    from=$(dirname "$file")
    from=${from#./}
    to=$(dirname "$target")
    [[ "$from" == "$to" ]] && continue
    if [[ -z "${allowed[$from]+set}" ]]; then
        echo "src/$file: folder $from has no rule in scripts/check-layers.sh"
        status=1
    elif [[ " ${allowed[$from]} " != *" $to "* ]]; then
        echo "src/$file includes \"$target\": $from may include only: ${allowed[$from]:-nothing}"
        status=1
    fi
done < <(grep -rH --include='*.[ch]' '^#include "' .)

if [[ $status -eq 0 ]]; then
    echo "layers: every include points down"
fi
exit $status
