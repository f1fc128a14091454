"""How fast this machine multiplies matrices: the figure every reported time is read against (machines
of one kind differ up to 2x, and a shared one drifts), measured where the times are measured."""
from __future__ import annotations

import statistics
import time

import torch


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(shapes: list[tuple[int, int, int]], dtype=torch.float32, repeats: int = 7) -> dict:
    """GFLOP/s of torch.matmul for [m,k] @ [k,n] per shape; the peak is the best of them."""
    by_shape = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        torch.matmul(a, b)  # first call allocates
        seconds = median_seconds(lambda: torch.matmul(a, b), repeats)
        by_shape[f"{m}x{k}x{n}"] = round(2 * m * k * n / seconds / 1e9, 3)
    return {"gflops_by_shape": by_shape, "peak_gflops": max(by_shape.values())}
