#!/usr/bin/env python3
"""Draws the figures of docs/PERFORMANCE.md as SVG from the benchmarks' JSON output.

    scripts/plot-bench.py --examples examples.json --out docs/img
    scripts/plot-bench.py --e2e "before=old.json" --e2e "after=new.json" --out docs/img

--examples: the file VERACRUZ_BENCH_JSON names for scripts/bench-examples.sh; draws
execution-ratios.svg (time relative to the native build, log scale, per example).
--e2e LABEL=PATH[,PATH...] (repeatable): `scripts/bench-e2e.sh --json` output; draws
throughput.svg (provisioning and retrieval MB/s, one bar per label, the median over its runs).

Python's standard library only, so it runs wherever the benchmarks do.
"""

import argparse
import json
import math
import os
from xml.sax.saxutils import escape

COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]
FONT = 'font-family="sans-serif" font-size="12"'


def text(x, y, s, anchor="start", size=12, weight="normal", fill="#222"):
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>'
    )


def svg(width, height, body):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


def legend(x, y, labels):
    out = []
    for i, label in enumerate(labels):
        out.append(
            f'<rect x="{x}" y="{y + i * 18 - 10}" width="12" height="12" '
            f'fill="{COLOURS[i % len(COLOURS)]}"/>'
        )
        out.append(text(x + 18, y + i * 18, label))
    return out


def execution_ratios(doc, path):
    series = [
        ("our JIT", "jit_s"),
        ("our JIT, hardware_nans", "jit_hardware_nans_s"),
        ("wasmtime CLI, engine config", "cli_engine_config_s"),
        ("wasmtime CLI, defaults", "cli_default_s"),
        ("our interpreter", "interpreter_s"),
    ]
    rows = doc["rows"]
    series = [s for s in series if any(r.get(s[1]) is not None for r in rows)]
    lo, hi = 0.25, 64.0
    left, right, top = 200, 40, 60
    plot_w = 560
    bar_h, gap = 9, 12
    group_h = bar_h * len(series) + gap
    height = top + group_h * len(rows) + 40 + 18 * len(series)
    width = left + plot_w + right

    def x_of(v):
        v = min(max(v, lo), hi)
        return left + plot_w * (math.log(v / lo) / math.log(hi / lo))

    body = [
        text(width / 2, 22, "Execution time relative to the native build (log scale; lower is faster)",
             anchor="middle", size=14, weight="bold"),
        text(width / 2, 40, "examples on their large inputs; scripts/bench-examples.sh",
             anchor="middle", size=11, fill="#555"),
    ]
    axis_bottom = top + group_h * len(rows)
    for tick in [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64]:
        x = x_of(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_bottom}" '
                    f'stroke="{"#999" if tick == 1 else "#e3e3e3"}"/>')
        body.append(text(x, axis_bottom + 16, f"{tick:g}×", anchor="middle", size=11))
    for target, label in [(1.3, "1.3× (JIT target)"), (10, "10× (interpreter target)")]:
        x = x_of(target)
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_bottom}" '
                    f'stroke="#c00" stroke-dasharray="4 3"/>')
        body.append(text(x + 3, top - 9, label, size=10, fill="#c00"))
    for i, row in enumerate(rows):
        y0 = top + i * group_h
        body.append(text(left - 8, y0 + group_h / 2, row["example"], anchor="end"))
        for j, (_, key) in enumerate(series):
            v = row.get(key)
            stopped = row.get(key.replace("_s", "_timed_out"), False)
            if v is None and not stopped:
                continue
            if stopped:
                # Stopped at the timeout: the bar runs to the edge, labelled as a lower bound.
                ratio = doc["cli_timeout_s"] / row["native_s"]
                label = f"> {ratio:.0f} (stopped)"
            else:
                ratio = v / row["native_s"]
                label = f"{ratio:.2f}"
            y = y0 + j * bar_h
            x1 = x_of(ratio)
            x0 = x_of(lo)
            body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1):.1f}" '
                        f'height="{bar_h - 1}" fill="{COLOURS[j]}"/>')
            body.append(text(min(x1, left + plot_w - 60) + 3, y + bar_h - 1.5, label, size=8,
                             fill="#333"))
    body += legend(left, axis_bottom + 38, [s[0] for s in series])
    with open(path, "w") as f:
        f.write(svg(width, height, body))


def throughput(runs, path):
    measures = [
        ("provisioning 1 GiB", lambda d: d["provision_big"]["mb_per_s"]),
        ("provisioning 64 MiB", lambda d: d["provision_small"]["mb_per_s"]),
        ("retrieval 1 GiB", lambda d: d["retrieve_big"]["mb_per_s"]),
    ]
    left, right, top = 150, 60, 60
    plot_w = 520
    bar_h, gap = 14, 14
    group_h = bar_h * len(runs) + gap
    height = top + group_h * len(measures) + 40 + 18 * len(runs)
    width = left + plot_w + right
    top_value = max([1200.0] + [m(d) for _, d in runs for _, m in measures])
    top_value = math.ceil(top_value / 200) * 200

    def x_of(v):
        return left + plot_w * v / top_value

    body = [
        text(width / 2, 22, "End-to-end throughput over attested TLS through the relay (MB/s)",
             anchor="middle", size=14, weight="bold"),
        text(width / 2, 40, "client → relay → runtime VFS and back; scripts/bench-e2e.sh",
             anchor="middle", size=11, fill="#555"),
    ]
    axis_bottom = top + group_h * len(measures)
    for tick in range(0, int(top_value) + 1, 200):
        x = x_of(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_bottom}" '
                    f'stroke="#e3e3e3"/>')
        body.append(text(x, axis_bottom + 16, str(tick), anchor="middle", size=11))
    x = x_of(700)
    body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_bottom}" '
                f'stroke="#c00" stroke-dasharray="4 3"/>')
    body.append(text(x + 3, top - 9, "700 MB/s (provisioning target)", size=10, fill="#c00"))
    for i, (label, measure) in enumerate(measures):
        y0 = top + i * group_h
        body.append(text(left - 8, y0 + group_h / 2, label, anchor="end"))
        for j, (_, d) in enumerate(runs):
            v = measure(d)
            y = y0 + j * bar_h
            body.append(f'<rect x="{left}" y="{y:.1f}" width="{x_of(v) - left:.1f}" '
                        f'height="{bar_h - 2}" fill="{COLOURS[j % len(COLOURS)]}"/>')
            body.append(text(x_of(v) + 4, y + bar_h - 4, f"{v:.0f}", size=10))
    body += legend(left, axis_bottom + 38, [label for label, _ in runs])
    with open(path, "w") as f:
        f.write(svg(width, height, body))


def median_run(docs):
    """One e2e report whose throughput figures are the medians over `docs` (several runs)."""
    def med(values):
        values = sorted(values)
        n = len(values)
        return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    out = json.loads(json.dumps(docs[0]))
    for key in ["provision_big", "provision_small", "retrieve_big"]:
        out[key]["mb_per_s"] = med([d[key]["mb_per_s"] for d in docs])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", help="JSON written by the examples benchmark")
    p.add_argument("--e2e", action="append", default=[], metavar="LABEL=PATH",
                   help="JSON of scripts/bench-e2e.sh --json, with the bar's label")
    p.add_argument("--out", default="docs/img", help="directory for the SVG files")
    args = p.parse_args()
    if not args.examples and not args.e2e:
        p.error("nothing to draw: give --examples and/or --e2e")
    os.makedirs(args.out, exist_ok=True)
    if args.examples:
        with open(args.examples) as f:
            doc = json.load(f)
        out = os.path.join(args.out, "execution-ratios.svg")
        execution_ratios(doc, out)
        print(out)
    if args.e2e:
        runs = []
        for spec in args.e2e:
            label, sep, paths = spec.partition("=")
            if not sep:
                p.error(f"--e2e wants LABEL=PATH[,PATH...], got {spec!r}")
            docs = []
            for path in paths.split(","):
                with open(path) as f:
                    docs.append(json.load(f))
            runs.append((label, median_run(docs)))
        out = os.path.join(args.out, "throughput.svg")
        throughput(runs, out)
        print(out)


if __name__ == "__main__":
    main()
