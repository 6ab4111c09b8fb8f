#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 30 s each), seeded with the test vectors.
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail

secs="${1:-30}"
here="$(cd "$(dirname "$0")" && pwd)"
vectors="$here/../testdata/vectors"
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

seed() {
    local target="$1"
    shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "corpus/$target/seed-$(basename "$f")"
    done
    return 0
}

seed nitro_document "$vectors/nitro/nitro_attest_fixture_eu-central-1_20250106.cose"
seed cose_sign1 "$vectors/nitro/nitro_attest_fixture_eu-central-1_20250106.cose" "$vectors"/cca/*.cbor
seed snp_evidence "$vectors"/sev-snp/*.bin
seed dcap_quote "$vectors/dcap/dcap-qvl/tdx_quote" "$vectors/dcap/dcap-qvl/sgx_quote"
seed cca_token "$vectors"/cca/*.cbor
seed dcap_evidence
seed device_responses
seed text_inputs "$vectors/cca/ta-tfa.json"

status=0
for target in $(cargo +nightly fuzz list); do
    echo "== $target (${secs}s)"
    if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "!! $target found a failure; the reproducer is in fuzz/artifacts/$target/"
        status=1
    fi
done
exit "$status"
