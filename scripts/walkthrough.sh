#!/usr/bin/env bash
# The policy tools walkthrough: three identities, a policy built from flags, and its check.
# Runs in a temporary directory and leaves nothing behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build -q --manifest-path "$root/Cargo.toml" -p veracruz
veracruz="${CARGO_TARGET_DIR:-$root/target}/debug/veracruz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n$ %s\n' "$*"; "$@"; }
step "$veracruz" identity new alice --out ids
step "$veracruz" identity new bob --out ids
step "$veracruz" identity new attestation-ca --out ids
step "$veracruz" identity show ids/bob.crt
printf '\0asm\1\0\0\0' > sum.wasm
step "$veracruz" policy new \
    --principal alice=ids/alice.crt --role alice=program-provider \
    --principal bob=ids/bob.crt --role bob=data-provider --role bob=result-receiver \
    --program /program/sum.wasm=sum.wasm \
    --cap alice:/program/sum.wasm=wx \
    --cap bob:/input/bob.csv=w --cap bob:/output/=r \
    --program-cap /program/sum.wasm:/input/=r --program-cap /program/sum.wasm:/output/=w \
    --input /input/bob.csv \
    --attestation-url http://127.0.0.1:3010 --attestation-ca ids/attestation-ca.crt \
    --allow-insecure --measurement "linux=$(printf '0%.0s' $(seq 64))" \
    --server 127.0.0.1:3011 --out policy.json
step "$veracruz" policy check policy.json
