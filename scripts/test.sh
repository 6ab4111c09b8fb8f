#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it.
#
# Formatting and lints first (cheap, and they fail fast), then the committed WebAssembly
# fixtures are rebuilt and compared byte for byte, then every crate's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# (examples/build.sh --check runs inside `cargo test`, in crates/examples-test/tests/reproducible.rs.)
for check in tests/guests/build.sh; do
    if [ -x "$check" ]; then
        echo "== $check --check (committed .wasm files match a fresh build)"
        "$check" --check
    fi
done

if [ -z "${VERACRUZ_TEST_POSTGRES_URL:-}" ] && [ -x scripts/postgres.sh ] && [ "$(id -u)" = 0 ]; then
    # Tests run their PostgreSQL variants only when they are given a database.
    if url=$(scripts/postgres.sh 2>/dev/null); then
        export VERACRUZ_TEST_POSTGRES_URL="$url"
    fi
fi
echo "== cargo test --workspace (PostgreSQL: ${VERACRUZ_TEST_POSTGRES_URL:-not available, those variants are skipped})"
cargo test --workspace
