#!/usr/bin/env bash
# Builds detcd (release) at the repo root, then runs the etcd-client suite against it.
# Needs `protoc` (etcd-client's build script compiles etcd's protos; Debian:
# protobuf-compiler). Arguments go to `cargo test`, e.g. `run.sh watch` or
# `run.sh -- --test-threads=1`. Honours CARGO_TARGET_DIR (both projects then build into
# it); otherwise each uses its own default `target/`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v protoc >/dev/null 2>&1 && [ -z "${PROTOC:-}" ]; then
    echo "run.sh: protoc not found (apt-get install protobuf-compiler, or set PROTOC)" >&2
    exit 1
fi

# A relative CARGO_TARGET_DIR means the same directory for both builds below.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    case "$CARGO_TARGET_DIR" in
        /*) ;;
        *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;;
    esac
    export CARGO_TARGET_DIR
    bin="$CARGO_TARGET_DIR/release/detcd"
else
    bin="$root/target/release/detcd"
fi

(cd "$root" && cargo build --release --bin detcd)
[ -x "$bin" ] || { echo "run.sh: no detcd binary at $bin after the build" >&2; exit 1; }

cd "$here"
DETCD_BIN="$bin" cargo test --release "$@"
