#!/usr/bin/env python3
"""Compare two `qa-service eval --json` reports: every quality metric, the baseline, the
per-type table and the failures; latency aside. Exit 1 and name what moved when they differ.

    git worktree add /tmp/before <commit>
    (cd /tmp/before && python3 -m qa_service eval --json) > before.json
    qa-service eval --json > after.json
    python3 scripts/compare_eval.py before.json after.json
"""

from __future__ import annotations

import json
import sys


def _quality(metrics: dict | None) -> dict:
    return {k: v for k, v in (metrics or {}).items() if not k.startswith("latency")}


def main(before_path: str, after_path: str) -> int:
    with open(before_path, encoding="utf-8") as f:
        before = json.load(f)
    with open(after_path, encoding="utf-8") as f:
        after = json.load(f)
    moved = []
    for part in ("metrics", "baseline"):
        a, b = _quality(before.get(part)), _quality(after.get(part))
        moved += [f"{part}.{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    for part in ("by_type", "failures", "counts"):
        if before.get(part) != after.get(part):
            moved.append(f"{part} differ")
    for line in moved:
        print(line)
    print("same metrics" if not moved else f"{len(moved)} difference(s)")
    return 1 if moved else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
