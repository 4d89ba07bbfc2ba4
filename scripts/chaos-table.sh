#!/usr/bin/env bash
# The faults x target table of `detcd chaos`: one run per fault (and one with all of
# them) against a three-member detcd cluster and a three-member etcd cluster, printed
# as one Markdown table. Needs jq, and etcd on PATH for the etcd rows.
# DURATION (default 30s), SEED (default 1), OUT (default detcd-out/chaos-table),
# FAULTS (space-separated fault sets, default every fault alone and all together;
# detcd-only ones are not run against etcd).
# The negative control ack-before-fsync is run on its own against detcd and must show
# violations.
set -uo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-30s}
seed=${SEED:-1}
out=${OUT:-detcd-out/chaos-table}
command -v jq >/dev/null || { echo "chaos-table: needs jq" >&2; exit 2; }
cargo build --release -q || exit 1
bin=${CARGO_TARGET_DIR:-target}/release/detcd
mkdir -p "$out"
rows=()
for target in detcd etcd; do
  for faults in ${FAULTS:-kill pause partition delay clock fsync kill-unsynced kill,pause,partition,delay,clock,fsync,kill-unsynced}; do
    [ "$target" = etcd ] && case $faults in clock|fsync|kill-unsynced|ack-before-fsync) true;; *) false;; esac && continue
    dir="$out/$target-${faults//,/+}"
    "$bin" chaos --target "$target" --members 3 --duration "$duration" --faults "$faults" \
      --seed "$seed" --out "$dir" --html "$dir/report.html" >"$dir.txt" 2>&1
    code=$?
    if [ ! -f "$dir/report.json" ]; then
      rows+=("| $target | $faults | run failed (exit $code, see $dir.txt) | | | | |")
      continue
    fi
    rows+=("$(jq -r --arg code "$code" '"| \(.target) | \(.faults | join(",")) | \(.operations) (ok \(.ok), unknown \(.unknown)) | \(.acknowledged_writes) | \(.fault_events | length) | \([.checks[] | select(.verdict != "pass") | .name] | if length == 0 then "none" else join(", ") end) | \([.fault_events[].recovery_ms // empty] | max // "none") ms / \(.recovery_ms // "none") ms |"' "$dir/report.json")")
  done
done
echo "| target | faults | operations | acknowledged writes | faults injected | violations | recovery: longest after a fault / after the final heal |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
