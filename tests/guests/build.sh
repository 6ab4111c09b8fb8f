#!/usr/bin/env bash
# Rebuilds the C guest programs in src/ into the .wasm fixtures beside this script.
#
#   tests/guests/build.sh           rebuild the fixtures in place
#   tests/guests/build.sh --check   rebuild into a temporary directory and fail if any
#                                   fixture differs from the committed one by a single byte
#
# Needs Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32 (wasm32 builtins).
# The build is deterministic: fixed flags, no debug information (which would record paths),
# all symbols stripped, sources named relative to this directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

CC="${CC_WASM:-clang}"
# -Wno-unused-result: the suite calls some functions as setup steps whose failure the following
# checks report.
CFLAGS=(--target=wasm32-wasi -O2 -std=c11 -D_GNU_SOURCE -Wall -Werror -Wno-unused-result
        -fno-ident -Wl,--strip-all)

build() {
    local out="$1"
    mkdir -p "$out"
    "$CC" "${CFLAGS[@]}" -o "$out/wasi_suite.wasm" src/wasi_suite.c
    "$CC" "${CFLAGS[@]}" -o "$out/echo.wasm" src/echo.c
    "$CC" "${CFLAGS[@]}" -o "$out/membomb.wasm" src/membomb.c
    "$CC" "${CFLAGS[@]}" -o "$out/sha256.wasm" src/sha256.c
    for step in a b f; do
        "$CC" "${CFLAGS[@]}" -DSTEP="$step" -o "$out/step_$step.wasm" src/step.c
    done
}

case "${1:-}" in
    "")
        build "$here"
        echo "rebuilt: $(cd "$here" && ls ./*.wasm | tr '\n' ' ')"
        ;;
    --check)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        build "$tmp"
        status=0
        for f in "$tmp"/*.wasm; do
            name="$(basename "$f")"
            if [[ ! -f "$here/$name" ]]; then
                echo "missing fixture: tests/guests/$name (run tests/guests/build.sh)" >&2
                status=1
            elif ! cmp -s "$f" "$here/$name"; then
                echo "fixture differs from its rebuild: tests/guests/$name" >&2
                status=1
            fi
        done
        for f in "$here"/*.wasm; do
            [[ -f "$tmp/$(basename "$f")" ]] || { echo "stale fixture: $f" >&2; status=1; }
        done
        [[ $status -eq 0 ]] && echo "all guest fixtures match their sources"
        exit $status
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
