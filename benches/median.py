#!/usr/bin/env python3
"""Combines several `rustlite-bench --out FILE.md` reports into one table of per-cell medians.

    python3 median.py run1.md run2.md run3.md

Numeric cells (ops/s with k/M suffixes, MiB, ratios) are parsed, the median of each cell over the
runs is printed in the same format, and RustLite's ratio to the best peer is recomputed from the
medians (sled is left out of the best peer on rows whose sled cells carry †, as in the harness).
Key-value cells are merged by engine name, read from each run's own header (runs may list
different engines, in any order); a row whose engines differ between runs, a row some runs lack
and a cell that is not a number in some runs are reported on stderr: no cell is dropped silently.
Verdicts of the `≥X× best` targets are recomputed from the medians; other verdicts are
copied from the last run and say so. The "typed layer vs raw" and "SQL vs SQLite" tables (when
present) get the median of each ops/s or ms cell and the median of the per-run ratios (each run's
ratio pairs interleaved measurements, and is not rounded like the cells), verdicts recomputed; a
"NO" in "same result" or an unexpected plan in any run is kept.
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


def warn(msg):
    print(f"median.py: warning: {msg}", file=sys.stderr)


def labels_of(runs, paths, what):
    """Row labels over all runs, in order of first appearance; warns about a row some runs lack."""
    labels = []
    for run in runs:
        for row in run[1:]:
            if row[0] not in labels:
                labels.append(row[0])
    for label in labels:
        missing = [p for p, run in zip(paths, runs) if not any(r[0] == label for r in run[1:])]
        if missing:
            warn(f"{what} row {label!r} is missing from {', '.join(missing)}: its median is over the other runs")
    return labels


def med(runs, label, col):
    vals = [parse(r[col]) for run in runs for r in run[1:] if r[0] == label and col < len(r)]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def last_row(runs, label):
    """The row `label` of the last run that has it."""
    return next(r for run in reversed(runs) for r in run[1:] if r[0] == label)


def typed(paths):
    """The typed-layer table: medians of the ops/s columns, ratio raw/typed recomputed."""
    found = [(p, t) for p, t in ((p, table(p, "operation")) for p in paths) if t]
    if not found:
        return
    names, runs = [p for p, _ in found], [t for _, t in found]
    print()
    print("| " + " | ".join(runs[-1][0]) + " |")
    print("|---|---:|---:|---:|---|")
    for label in labels_of(runs, names, "typed"):
        row = last_row(runs, label)
        t, r, ratio = med(runs, label, 1), med(runs, label, 2), med(runs, label, 3)
        if None in (t, r, ratio):
            warn(f"typed row {label!r} has no numbers; copied from the last run that has it")
            print("| " + " | ".join(row) + " |")
            continue
        target = row[4]
        if "≤" in target:
            x = float(target.split("≤")[1].split("×")[0])
            target = ("met" if ratio <= x else "**MISSED**") + f" ≤{x:g}×"
        print(f"| {label} | {fmt(t, row[1])} | {fmt(r, row[2])} | {ratio:.2f}× | {target} |")


def sql(paths):
    """The SQL table: medians of the ms columns, ratio and ≤2× verdict recomputed."""
    found = [(p, t) for p, t in ((p, table(p, "query")) for p in paths) if t]
    if not found:
        return
    names, runs = [p for p, _ in found], [t for _, t in found]
    print()
    print("| " + " | ".join(runs[-1][0]) + " |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    ms = lambda v: f"{v:.4f}" if v < 0.1 else f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:.0f}")
    for label in labels_of(runs, names, "SQL"):
        row = last_row(runs, label)
        a, b, ratio = med(runs, label, 2), med(runs, label, 3), med(runs, label, 4)
        if None in (a, b, ratio):
            warn(f"SQL row {label!r} has no numbers; copied from the last run that has it")
            print("| " + " | ".join(row) + " |")
            continue
        # "same result" and the plan: any run's "NO" or unexpected plan is kept, not outvoted.
        same = [r[7] for run in runs for r in run[1:] if r[0] == label]
        plan = [r[6] for run in runs for r in run[1:] if r[0] == label]
        same = next((c for c in same if c != "yes"), row[7])
        plan = next((c for c in plan if "expected ✓" not in c and c != "—"), row[6])
        verdict = ("met" if ratio <= 2 else "**MISSED**") + " ≤2×"
        print(f"| {label} | {row[1]} | {ms(a)} | {ms(b)} | {ratio:.2f}× | {verdict} | {plan} | {same} |")


def main():
    paths = sys.argv[1:]
    if not paths:
        sys.exit(__doc__)
    found = [(p, table(p, "workload")) for p in paths]
    for p, t in found:
        if not t:
            warn(f"{p} has no key-value table")
    found = [(p, t) for p, t in found if t]
    if found:
        kv([p for p, _ in found], [t for _, t in found])
    typed(paths)
    sql(paths)


def kv(paths, runs):
    """The key-value table. Each run's columns are named by that run's own header, so cells are
    merged by engine name, never by position: runs with different engine lists (or orders) still
    pair each cell with its engine. A row whose engines differ between runs is warned about, and
    so is any cell that is missing or not a number in some runs; no cell is dropped silently."""
    engines = []
    cells = {}  # label -> engine -> [(path, cell)]
    targets = {}
    for path, run in zip(paths, runs):
        header = run[0]
        names = header[1:-2]
        for e in names:
            if e not in engines:
                engines.append(e)
        for row in run[1:]:
            if len(row) != len(header):
                warn(f"{path}: row {row[0]!r} has {len(row)} cells, its header {len(header)}: "
                     "cells paired by position up to the shorter")
            for e, c in zip(names, row[1:-2]):
                cells.setdefault(row[0], {}).setdefault(e, []).append((path, c))
            targets[row[0]] = row[-1]
    header = runs[-1][0]
    print("| " + " | ".join([header[0]] + engines + header[-2:]) + " |")
    print("|---|" + "---:|" * len(engines) + "---|---|")
    for label in labels_of(runs, paths, "key-value"):
        by_engine = cells.get(label, {})
        with_row = [p for p, run in zip(paths, runs) if any(r[0] == label for r in run[1:])]
        sets = {p: sorted(e for e, got in by_engine.items() if any(q == p for q, _ in got)) for p in with_row}
        if len({tuple(v) for v in sets.values()}) > 1:
            warn(f"row {label!r}: engines differ between runs: "
                 + "; ".join(f"{p}: {','.join(v)}" for p, v in sets.items()))
        out, values, daggers = [], {}, set()
        for eng in engines:
            got = by_engine.get(eng, [])
            nums = [(p, parse(c)) for p, c in got]
            vals = [v for _, v in nums if v is not None]
            odd = [p for p, v in nums if v is None]
            if vals and odd:
                warn(f"row {label!r}, {eng}: not a number in {', '.join(odd)} "
                     f"({', '.join(c for p, c in got if p in odd)}): median over the other runs")
            if any("†" in c for _, c in got):
                daggers.add(eng)
            if not vals:
                out.append(got[-1][1] if got else "n/a")
                continue
            m = statistics.median(vals)
            values[eng] = m
            like = next(c for _, c in reversed(got) if parse(c) is not None)
            out.append(fmt(m, like) + (" †" if eng in daggers else ""))
        lower_better = "MiB" in label or "amplification" in label
        peers = {e: v for e, v in values.items() if e != "rustlite" and not (e == "sled" and "sled" in daggers)}
        ratio = "—"
        if "rustlite" in values and peers:
            pick = min if lower_better else max
            best = pick(peers, key=peers.get)
            if peers[best] > 0:
                ratio = f"{values['rustlite'] / peers[best]:.2f}× {best}"
        target = targets.get(label, "—")
        if "× best" in target and ratio != "—":
            x = float(target.split("≥")[1].split("×")[0])
            r = float(ratio.split("×")[0])
            target = ("met" if r >= x else "**MISSED**") + f" ≥{x:g}× best"
        elif target != "—":
            target += " (last run)"
        print(f"| {label} | " + " | ".join(out) + f" | {ratio} | {target} |")


if __name__ == "__main__":
    main()
