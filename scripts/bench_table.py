#!/usr/bin/env python3
"""genzoo against PyTorch from alternated rounds of `genzoo bench --json` and
`bench/pytorch/reference.py --json`: a markdown table of training images/s per preset (mean over
rounds), the ratio of the means, and the range of the per-round ratios.

    python3 scripts/bench_table.py --genzoo g-1.json g-2.json --torch t-1.json t-2.json
"""

import argparse
import json
import sys


def records(path):
    """The records of one JSON file: a list (genzoo bench) or {"records": [...]} (reference.py)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("records", [])
    return {r["model"]: r["train_images_per_sec"] for r in data if r.get("train_images_per_sec")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genzoo", nargs="+", required=True, help="genzoo bench JSON files, one per round")
    p.add_argument("--torch", nargs="+", required=True, help="reference.py JSON files, one per round")
    p.add_argument("--labels", default="PyTorch,genzoo", help="column names, comma-separated")
    args = p.parse_args()
    rounds = list(zip((records(f) for f in args.torch), (records(f) for f in args.genzoo)))
    if not rounds:
        sys.exit("no rounds")
    models = [m for m in rounds[0][1] if any(m in t for t, _ in rounds)]
    torch_label, genzoo_label = args.labels.split(",")
    print(f"| preset | {torch_label} img/s | {genzoo_label} img/s | ratio | per-round ratios |")
    print("|---|---|---|---|---|")
    for m in models:
        pairs = [(t[m], g[m]) for t, g in rounds if m in t and m in g]
        if not pairs:
            continue
        tm = sum(t for t, _ in pairs) / len(pairs)
        gm = sum(g for _, g in pairs) / len(pairs)
        per = [g / t for t, g in pairs]
        print(f"| `{m}` | {tm:,.1f} | {gm:,.1f} | {gm / tm:.3f} | {min(per):.3f}–{max(per):.3f} ({len(pairs)}) |")


if __name__ == "__main__":
    main()
