#!/usr/bin/env python3
"""Combines several `rustlite-bench --out FILE.md` reports into one table of per-cell medians.

    python3 median.py run1.md run2.md run3.md

Numeric cells (ops/s with k/M suffixes, MiB, ratios) are parsed, the median of each cell over the
runs is printed in the same format, and RustLite's ratio to the best peer is recomputed from the
medians (sled is left out of the best peer on rows whose sled cells carry †, as in the harness).
Verdicts of the `≥X× best` targets are recomputed from the medians; other verdicts are
copied from the last run and say so. The "typed layer vs raw" and "SQL vs SQLite" tables (when
present) get the median of each ops/s or ms cell and the median of the per-run ratios (each run's
ratio pairs interleaved measurements, and is not rounded like the cells), verdicts recomputed.
"""
import statistics
import sys


def parse(cell):
    c = cell.replace("†", "").replace("×", "").strip()
    mult = 1.0
    if c.endswith("M"):
        mult, c = 1e6, c[:-1]
    elif c.endswith("k"):
        mult, c = 1e3, c[:-1]
    try:
        return float(c) * mult
    except ValueError:
        return None


def fmt(v, like):
    if "×" in like:
        return f"{v:.2f}×"
    if like.replace(".", "").replace("†", "").strip().isdigit() and "." in like:
        return f"{v:.1f}"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def tables(path):
    """Every markdown table of a report, as lists of rows of cells (header first)."""
    out, cur = [], []
    for line in open(path, encoding="utf-8"):
        if line.startswith("|"):
            if not line.startswith("|---"):
                cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def table(path, first):
    """The table whose header's first cell starts with `first` ([] when absent)."""
    return next((t for t in tables(path) if t[0][0].startswith(first)), [])


def med(runs, label, col):
    vals = [parse(r[col]) for run in runs for r in run[1:] if r[0] == label]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def typed(paths):
    """The typed-layer table: medians of the ops/s columns, ratio raw/typed recomputed."""
    runs = [t for t in (table(p, "operation") for p in paths) if t]
    if not runs:
        return
    print()
    print("| " + " | ".join(runs[-1][0]) + " |")
    print("|---|---:|---:|---:|---|")
    for row in runs[-1][1:]:
        t, r, ratio = med(runs, row[0], 1), med(runs, row[0], 2), med(runs, row[0], 3)
        target = row[4]
        if "≤" in target:
            x = float(target.split("≤")[1].split("×")[0])
            target = ("met" if ratio <= x else "**MISSED**") + f" ≤{x:g}×"
        print(f"| {row[0]} | {fmt(t, row[1])} | {fmt(r, row[2])} | {ratio:.2f}× | {target} |")


def sql(paths):
    """The SQL table: medians of the ms columns, ratio and ≤2× verdict recomputed."""
    runs = [t for t in (table(p, "query") for p in paths) if t]
    if not runs:
        return
    print()
    print("| " + " | ".join(runs[-1][0]) + " |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    for row in runs[-1][1:]:
        a, b, ratio = med(runs, row[0], 2), med(runs, row[0], 3), med(runs, row[0], 4)
        verdict = ("met" if ratio <= 2 else "**MISSED**") + " ≤2×"
        ms = lambda v: f"{v:.4f}" if v < 0.1 else f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:.0f}")
        print(f"| {row[0]} | {row[1]} | {ms(a)} | {ms(b)} | {ratio:.2f}× | {verdict} | {row[6]} | {row[7]} |")


def main():
    paths = sys.argv[1:]
    runs = [table(p, "workload") for p in paths]
    runs = [r for r in runs if r]
    if runs:
        kv(runs)
    typed(paths)
    sql(paths)


def kv(runs):
    header = runs[-1][0]
    engines = header[1:-2]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * len(engines) + "---|---|")
    for row in runs[-1][1:]:
        label = row[0]
        same = [r for run in runs for r in run if r[0] == label]
        cells, values = [], {}
        for i, eng in enumerate(engines, start=1):
            vals = [parse(r[i]) for r in same if parse(r[i]) is not None]
            if not vals:
                cells.append(row[i])
                continue
            med = statistics.median(vals)
            values[eng] = med
            mark = " †" if "†" in row[i] else ""
            cells.append(fmt(med, row[i]) + mark)
        lower_better = "MiB" in label or "amplification" in label
        peers = {e: v for e, v in values.items() if e != "rustlite" and not (e == "sled" and "†" in row[engines.index("sled") + 1])}
        ratio = "—"
        if "rustlite" in values and peers:
            pick = min if lower_better else max
            best = pick(peers, key=peers.get)
            if peers[best] > 0:
                ratio = f"{values['rustlite'] / peers[best]:.2f}× {best}"
        target = row[-1]
        if "× best" in target and ratio != "—":
            x = float(target.split("≥")[1].split("×")[0])
            r = float(ratio.split("×")[0])
            target = ("met" if r >= x else "**MISSED**") + f" ≥{x:g}× best"
        elif target != "—":
            target += " (last run)"
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {target} |")


if __name__ == "__main__":
    main()
