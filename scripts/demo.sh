#!/usr/bin/env bash
# The main job: one attested collaborative computation, end to end, on this machine.
# Builds the `veracruz` command and the runtime, then runs `veracruz demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p veracruz -p veracruz-runtime
exec "${CARGO_TARGET_DIR:-$root/target}/debug/veracruz" demo "$@"
