# Sourced by the benchmark scripts that compare detcd builds: starts three fresh
# members of one build on 127.0.0.1. Needs BASE_PORT, LOGDIR and the array PIDS set by
# the script (client ports BASE_PORT+1..3, peer ports BASE_PORT+11..13).
#
# start_members VARIANT TAG: VARIANT is a detcd binary, optionally followed by
# comma-separated VAR=VALUE settings for the members' environment; TAG names the data
# directories, the logs and the cluster token. Appends the members' PIDs to PIDS and
# returns at once; the caller waits for a leader its own way, or calls
# start_members_and_wait.

client_port() { echo $((BASE_PORT + $1)); }
peer_port() { echo $((BASE_PORT + 10 + $1)); }
EPS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

start_members() {
    local variant=$1 tag=$2 bin settings=() cluster="" i
    bin=${variant%%,*}
    [[ $variant == *,* ]] && IFS=, read -r -a settings <<<"${variant#*,}"
    for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$(peer_port "$i")"; done
    for i in 1 2 3; do
        mkdir -p "$LOGDIR/data/$tag/m$i"
        env "${settings[@]}" "$bin" serve --name "m$i" --data-dir "$LOGDIR/data/$tag/m$i" \
            --listen-client-urls "http://127.0.0.1:$(client_port "$i")" \
            --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
            --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
            --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "bench-$tag" --heartbeat-interval 100 \
            --election-timeout 1000 --log-level=error >"$LOGDIR/$tag-m$i.log" 2>&1 &
        PIDS+=($!)
    done
}

# start_members_and_wait VARIANT TAG CHECK...: start_members, then runs CHECK (a command
# that succeeds once the cluster has a leader) every 0.1 s; exits the script when no
# leader came within WAIT_SECS (set by the script).
start_members_and_wait() {
    local variant=$1 tag=$2 deadline
    shift 2
    start_members "$variant" "$tag"
    deadline=$((SECONDS + WAIT_SECS))
    until "$@" >/dev/null; do
        ((SECONDS < deadline)) || { echo "no leader within ${WAIT_SECS}s ($LOGDIR)" >&2; exit 1; }
        sleep 0.1
    done
}
