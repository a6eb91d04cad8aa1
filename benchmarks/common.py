"""Timing helpers and table printing shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def sample_ms(action: Callable[[], object], *, runs: int, warmup: int = 3) -> list[float]:
    """Wall-clock milliseconds of `runs` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def sample_interleaved_ms(
    first: Callable[[], object], second: Callable[[], object], *, runs: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time two actions alternately, so drift (a growing table, a busy core) weighs on both alike."""
    for _ in range(warmup):
        first()
        second()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for action, sink in ((first, timings[0]), (second, timings[1])):
            start = time.perf_counter()
            action()
            sink.append((time.perf_counter() - start) * 1000)
    return timings


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(values), percentile(values, 0.95), max(values)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(cell) for cell in header], *[[_fmt(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}\n")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def _fmt(cell: object) -> str:
    return f"{cell:.2f}" if isinstance(cell, float) else str(cell)
