#!/usr/bin/env bash
# The membership figure: time from `etcdctl member add --learner` to a learner that
# `member promote` accepts, with KEYS keys (default 100000) in the store, on a loopback
# 3-member cluster. The leader's log is compacted (--snapshot-count 10000), so the new
# member catches up by snapshot. With TARGET=etcd the same steps run against etcd.
#
#   DETCD=target/release/detcd scripts/member-add-figure.sh
#   TARGET=etcd scripts/member-add-figure.sh
#
# Prints `seconds from member add to promotable: S` (and when the learner's process
# started). Every process it starts is stopped by pid on exit; its data lives in a
# temporary directory removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${TARGET:-detcd}"
KEYS="${KEYS:-100000}"
DETCD="${DETCD:-${CARGO_TARGET_DIR:-target}/release/detcd}"
BASE="${BASE_PORT:-45100}"
data="$(mktemp -d /tmp/member-add-figure.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT INT TERM
server() {
  if [ "$TARGET" = etcd ]; then echo etcd; else echo "$DETCD serve"; fi
}
cluster=""
for i in 0 1 2; do cluster="$cluster,m$i=http://127.0.0.1:$((BASE + 10 + i))"; done
cluster="${cluster#,}"
for i in 0 1 2; do
  $(server) --name "m$i" --data-dir "$data/m$i" \
    --listen-client-urls "http://127.0.0.1:$((BASE + i))" --advertise-client-urls "http://127.0.0.1:$((BASE + i))" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 10 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 10 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token figure \
    --snapshot-count 10000 >"$data/m$i.log" 2>&1 &
  pids+=($!)
done
endpoints="127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))"
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=10s "$@"; }
for _ in $(seq 100); do ctl endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
echo "loading $KEYS keys (256-byte values)..."
"$DETCD" bench put --endpoints "$endpoints" --clients 64 --conns 8 --total "$KEYS" \
  --key-space-size "$KEYS" --sequential-keys --key-size 16 --val-size 256 >"$data/bench.log" 2>&1
ctl endpoint status -w table
peer=$((BASE + 13))
start=$(date +%s.%N)
added="$(ctl member add m3 --learner --peer-urls="http://127.0.0.1:$peer")"
id="$(echo "$added" | sed -n 's/^Member *\([0-9a-f]*\) added.*/\1/p')"
env_lines="$(echo "$added" | grep '^ETCD_')"
(
  while IFS= read -r line; do export "${line%%=*}=$(echo "${line#*=}" | tr -d '"')"; done <<<"$env_lines"
  exec $(server) --data-dir "$data/m3" \
    --listen-client-urls "http://127.0.0.1:$((BASE + 3))" --advertise-client-urls "http://127.0.0.1:$((BASE + 3))" \
    --listen-peer-urls "http://127.0.0.1:$peer" --snapshot-count 10000 >"$data/m3.log" 2>&1
) &
pids+=($!)
started=$(date +%s.%N)
for _ in $(seq 600); do
  if ctl member promote "$id" >/dev/null 2>&1; then
    done_at=$(date +%s.%N)
    echo "learner process started $(echo "$started - $start" | bc) s after member add"
    echo "seconds from member add to promotable: $(echo "$done_at - $start" | bc)"
    ETCDCTL_API=3 etcdctl --endpoints="$endpoints,127.0.0.1:$((BASE + 3))" endpoint status -w table || true
    exit 0
  fi
  sleep 0.1
done
echo "the learner was not promotable within 60 s" >&2
tail -20 "$data/m3.log" >&2
exit 1
