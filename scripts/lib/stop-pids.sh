# Sourced by the benchmark scripts: ends the processes they started, by PID.
#
# stop_pids PID...: TERM to each, up to 5 s for each to exit, then KILL, and reap it.
stop_pids() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
