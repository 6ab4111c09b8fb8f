#!/usr/bin/env bash
# Builds every example program for wasm32-wasi, reproducibly, into examples/wasm/ and
# records their SHA-256 in examples/wasm/SHA256SUMS (the hashes the example policies pin).
#
#   examples/build.sh           rebuild examples/wasm/*.wasm and SHA256SUMS
#   examples/build.sh --check   rebuild into a temporary directory and fail if any module
#                               differs from the committed one (what CI runs)
#
# Reproducibility: one fixed compiler (Debian's rustc 1.63 with libstd-rust-dev-wasm32,
# checked below), plain rustc invocations with no registry dependencies, one codegen unit,
# fat LTO, no debug info, and every build-time path remapped, so the bytes depend only on
# the sources and the compiler. Set VERACRUZ_WASM_RUSTC to use another rustc binary of the
# same version. Rebuilding also rewrites the hash each examples/*/policy.template.json pins.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUSTC=${VERACRUZ_WASM_RUSTC:-/usr/bin/rustc}
EXPECTED_RUSTC="rustc 1.63.0"

# name:source, relative to examples/
PROGRAMS=(
    linear-regression:linear-regression/src/main.rs
    intersection-sum:intersection-sum/src/main.rs
    private-set-intersection:private-set-intersection/src/main.rs
    string-edit-distance:string-edit-distance/src/main.rs
    shamir-secret-sharing:shamir-secret-sharing/src/main.rs
    macd:macd/src/main.rs
    logistic-regression:logistic-regression/src/main.rs
    number-stream-accumulation:number-stream-accumulation/src/main.rs
    generate-random:random-pipeline/src/generate-random.rs
    sort-numbers:random-pipeline/src/sort-numbers.rs
    private-auction:private-auction/src/main.rs
)

die() {
    echo "build.sh: $*" >&2
    exit 1
}

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *) die "unknown argument \`$1\`; usage: examples/build.sh [--check]" ;;
esac

[ -x "$RUSTC" ] || die "$RUSTC not found; install Debian's rustc and libstd-rust-dev-wasm32"
version=$("$RUSTC" --version)
case "$version" in
    "$EXPECTED_RUSTC"*) ;;
    *) die "$RUSTC is \`$version\`; the committed modules were built with $EXPECTED_RUSTC, and another compiler gives other bytes" ;;
esac

# build_all OUTDIR: every module and SHA256SUMS into OUTDIR.
build_all() {
    local out=$1 work
    work=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" RETURN
    local common=(
        --edition 2021
        --target wasm32-wasi
        -C opt-level=3
        -C codegen-units=1
        -C debuginfo=0
        -C strip=debuginfo
        -C metadata=veracruz-examples
        -D warnings
        --remap-path-prefix "$REPO=/veracruz"
        --remap-path-prefix "$work=/build"
        --remap-path-prefix "$out=/out"
    )
    "$RUSTC" "${common[@]}" --crate-type rlib --crate-name veracruz_guest \
        "$REPO/crates/guest/src/lib.rs" -o "$work/libveracruz_guest.rlib"
    local entry name src
    for entry in "${PROGRAMS[@]}"; do
        name=${entry%%:*}
        src=${entry#*:}
        "$RUSTC" "${common[@]}" -C lto=fat --crate-type bin --crate-name "${name//-/_}" \
            --extern veracruz_guest="$work/libveracruz_guest.rlib" \
            "$HERE/$src" -o "$out/$name.wasm"
    done
    (cd "$out" && LC_ALL=C sha256sum -- *.wasm | LC_ALL=C sort -k2 >SHA256SUMS)
}

# pinned_hash TEMPLATE PROGRAM: the sha256 a policy template pins for /program/PROGRAM.wasm
# (templates keep "sha256" on the line after "path", as written by this repository).
pinned_hash() {
    sed -n "/\"path\": \"\/program\/$2.wasm\"/{n;s/.*\"sha256\": \"\([0-9a-f]*\)\".*/\1/p}" "$1"
}

# Every template that names a program must pin the hash in SHA256SUMS ($1).
check_policies() {
    local sums=$1 status=0 template entry name want got
    for template in "$HERE"/*/policy.template.json; do
        for entry in "${PROGRAMS[@]}"; do
            name=${entry%%:*}
            got=$(pinned_hash "$template" "$name")
            [ -n "$got" ] || continue
            want=$(awk -v f="$name.wasm" '$2 == f { print $1 }' "$sums")
            if [ "$got" != "$want" ]; then
                echo "build.sh: ${template#"$REPO"/} pins $name.wasm as $got, but it hashes to $want" >&2
                status=1
            fi
        done
    done
    return $status
}

# Rewrites the pinned hashes in the templates to those in SHA256SUMS ($1).
sync_policies() {
    local sums=$1 template entry name want
    for template in "$HERE"/*/policy.template.json; do
        for entry in "${PROGRAMS[@]}"; do
            name=${entry%%:*}
            want=$(awk -v f="$name.wasm" '$2 == f { print $1 }' "$sums")
            sed -i "/\"path\": \"\/program\/$name.wasm\"/{n;s/\"sha256\": \"[0-9a-f]*\"/\"sha256\": \"$want\"/}" "$template"
        done
    done
}

if [ "$check" = 0 ]; then
    mkdir -p "$HERE/wasm"
    staging=$(mktemp -d)
    trap 'rm -rf "$staging"' EXIT
    build_all "$staging"
    # Replace the whole set at once so a failed build never leaves a mix of old and new.
    rm -f "$HERE"/wasm/*.wasm "$HERE/wasm/SHA256SUMS"
    cp "$staging"/*.wasm "$staging/SHA256SUMS" "$HERE/wasm/"
    sync_policies "$HERE/wasm/SHA256SUMS"
    cat "$HERE/wasm/SHA256SUMS"
else
    fresh=$(mktemp -d)
    trap 'rm -rf "$fresh"' EXIT
    build_all "$fresh"
    [ -f "$HERE/wasm/SHA256SUMS" ] || die "examples/wasm/SHA256SUMS is missing; run examples/build.sh"
    status=0
    if ! diff -u "$HERE/wasm/SHA256SUMS" "$fresh/SHA256SUMS"; then
        echo "build.sh --check: the rebuilt hashes differ from examples/wasm/SHA256SUMS" >&2
        status=1
    fi
    # The committed bytes must match the committed hashes too.
    if ! (cd "$HERE/wasm" && sha256sum --quiet -c SHA256SUMS); then
        echo "build.sh --check: examples/wasm/*.wasm do not match examples/wasm/SHA256SUMS" >&2
        status=1
    fi
    if ! check_policies "$fresh/SHA256SUMS"; then
        echo "build.sh --check: a policy template pins a stale hash; run examples/build.sh" >&2
        status=1
    fi
    committed=$(cd "$HERE/wasm" && ls -- *.wasm 2>/dev/null | sort)
    rebuilt=$(cd "$fresh" && ls -- *.wasm | sort)
    if [ "$committed" != "$rebuilt" ]; then
        echo "build.sh --check: examples/wasm holds other modules than the build produces" >&2
        status=1
    fi
    [ "$status" = 0 ] && echo "build.sh --check: all $(echo "$rebuilt" | wc -l) modules match"
    exit $status
fi
