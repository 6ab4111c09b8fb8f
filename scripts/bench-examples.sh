#!/usr/bin/env bash
# Execution benchmark of every example on its large inputs: native vs our JIT vs the wasmtime
# CLI vs our interpreter, in one run (crates/examples-test/benches/examples.rs).
# Installs the wasmtime CLI of the version the engine links, once, under
# $VERACRUZ_WASMTIME_ROOT (default /var/tmp/wasmtime-cli). Arguments name examples (default
# all); VERACRUZ_BENCH_JSON=path also writes the figures as JSON (scripts/plot-bench.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(awk '/^name = "wasmtime"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")"
prefix="${VERACRUZ_WASMTIME_ROOT:-/var/tmp/wasmtime-cli}"
cli="$prefix/bin/wasmtime"
if ! [ -x "$cli" ] || ! "$cli" --version | grep -q "^wasmtime $version\b"; then
  echo "installing wasmtime-cli $version under $prefix (a long build, once)" >&2
  # The CLI's default features add WASI proposals, the component model and tools the
  # comparison does not use; the same engine and compiler (Cranelift) are kept.
  cargo install wasmtime-cli --version "$version" --locked --root "$prefix" \
    --no-default-features --features run,compile,cranelift,parallel-compilation,clap/default
fi
export VERACRUZ_WASMTIME_CLI="$cli"
export VERACRUZ_BENCH_DIR="${VERACRUZ_BENCH_DIR:-/var/tmp/veracruz-examples-bench}"
exec cargo bench --manifest-path "$root/Cargo.toml" -p veracruz-examples-test --bench examples -- "$@"
