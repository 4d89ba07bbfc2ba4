#!/usr/bin/env bash
# The faults x target table of `detcd chaos`: the same runs against a three-member
# detcd cluster and a three-member etcd cluster, printed as one Markdown table. Needs
# jq, and etcd on PATH for the etcd rows; the netns rows need root, ip, nft and tc
# (where they are missing the run says so and the row shows it).
# DURATION (default 30s), SEED (default 1), OUT (default detcd-out/chaos-table),
# ROWS (space-separated NETWORK:FAULTS, default below: every link fault alone in
# network namespaces, kills and pauses, the detcd-only clock and disk faults, all of
# them together, and the proxy network's partitions and delays). Rows whose faults
# are all detcd-only are not run against etcd.
set -uo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-30s}
seed=${SEED:-1}
out=${OUT:-detcd-out/chaos-table}
default_rows="netns:partition netns:delay netns:loss netns:reorder netns:kill,pause
  netns:clock,fsync,kill-unsynced
  netns:kill,pause,partition,delay,loss,reorder,clock,fsync,kill-unsynced
  proxy:partition,delay"
command -v jq >/dev/null || { echo "chaos-table: needs jq" >&2; exit 2; }
cargo build --release -q || exit 1
bin=${CARGO_TARGET_DIR:-target}/release/detcd
mkdir -p "$out"
rows=()
for target in detcd etcd; do
  for row in ${ROWS:-$default_rows}; do
    network=${row%%:*}
    faults=${row#*:}
    if [ "$target" = etcd ]; then
      only_detcd=true
      for f in ${faults//,/ }; do
        case $f in clock|fsync|kill-unsynced|ack-before-fsync) ;; *) only_detcd=false;; esac
      done
      $only_detcd && continue
    fi
    dir="$out/$target-$network-${faults//,/+}"
    started=$(date +%s)
    "$bin" chaos --target "$target" --network "$network" --members 3 --duration "$duration" \
      --faults "$faults" --seed "$seed" --out "$dir" --html "$dir/report.html" >"$dir.txt" 2>&1
    code=$?
    echo "chaos-table: $target $network $faults: exit $code after $(( $(date +%s) - started )) s" >&2
    if [ ! -f "$dir/report.json" ]; then
      rows+=("| $target | $network | $faults | run failed (exit $code, see $dir.txt) | | | | |")
      continue
    fi
    rows+=("$(jq -r --arg code "$code" '"| \(.target) | \(.network) | \(.faults | join(",")) | \(.operations) (ok \(.ok), unknown \(.unknown)) | \(.acknowledged_writes) | \(.fault_events | length) | \([.checks[] | select(.verdict != "pass") | .name] | if length == 0 then "none" else join(", ") end) | \([.fault_events[].recovery_ms // empty] | max // "none") ms / \(.recovery_ms // "none") ms |"' "$dir/report.json")")
  done
done
echo "| target | network | faults | operations | acknowledged writes | faults injected | violations | recovery: longest after a fault / after the final heal |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
