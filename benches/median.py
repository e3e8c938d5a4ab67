#!/usr/bin/env python3
"""Combines several `rustlite-bench --out FILE.md` reports into one table of per-cell medians.

    python3 median.py run1.md run2.md run3.md

Numeric cells (ops/s with k/M suffixes, MiB, ratios) are parsed, the median of each cell over the
runs is printed in the same format, and RustLite's ratio to the best peer is recomputed from the
medians (sled is left out of the best peer on rows whose sled cells carry †, as in the harness).
Verdicts of the `≥X× best` targets are recomputed from the medians; other verdicts are
copied from the last run and say so.
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


def rows(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("|") and not line.startswith("|---"):
            out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def main():
    runs = [rows(p) for p in sys.argv[1:]]
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
