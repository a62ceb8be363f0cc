"""Timing shared by the benchmarks: calls that take turns item by item, so a busy moment of the
machine falls on all of them alike."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Mapping, Sequence


def interleaved(calls: Mapping[str, Callable[[Any], object]], items: Sequence[Any], repeat: int) -> dict[str, float]:
    """Median over ``repeat`` rounds of the mean milliseconds per item of each call."""
    rounds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        spent = dict.fromkeys(calls, 0.0)
        for item in items:
            for name, call in calls.items():
                started = time.perf_counter()
                call(item)
                spent[name] += time.perf_counter() - started
        for name in calls:
            rounds[name].append(spent[name] * 1000 / len(items))
    return {name: statistics.median(values) for name, values in rounds.items()}
