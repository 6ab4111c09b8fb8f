#!/usr/bin/env bash
# Whole-process benchmark of the end-to-end path (attested start, session setup, provisioning
# and retrieval throughput, concurrent sessions, runtime peak RSS), in the release profile.
# Builds the release runtime, then runs the bench; arguments go to the bench (e.g. --json).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --manifest-path "$root/Cargo.toml" -p veracruz-runtime
exec cargo bench --manifest-path "$root/Cargo.toml" -p veracruz-testbed --bench e2e -- "$@"
