"""Measuring training speed: time a step with warm-up, count FLOPs, measure FLOP/s.

Taught in notebook 07 (faster training). Every function here is shown in full in that
notebook (``tests/unit/test_taught_code.py`` checks that the notebook and this module
hold the same code); ``benchmarks/speedups.py`` uses them too. Nothing runs on import.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["seconds_per_call", "training_step", "count_flops", "flops_per_second"]


def seconds_per_call(
    fn: Callable[[], object], num_calls: int = 10, warmup: int = 2
) -> float:
    """Median wall time of one call of ``fn``, in seconds, over ``num_calls`` timed
    calls that follow ``warmup`` untimed ones (first calls pay one-off costs).

    Taught in notebook 07 (faster training).
    """
    if num_calls < 1 or warmup < 0:
        raise ValueError(
            f"need num_calls >= 1 and warmup >= 0, not {num_calls}, {warmup}"
        )
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(num_calls):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def training_step(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    dtype: torch.dtype | None = None,
) -> Callable[[], torch.Tensor]:
    """A function that runs one training step on the batch ``(X, y)`` and returns its
    loss; with ``dtype`` (e.g. ``torch.bfloat16``), forward and loss run under autocast.

    Taught in notebook 07 (faster training).
    """

    def step() -> torch.Tensor:
        optimizer.zero_grad()
        with torch.autocast(X.device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``fn``, as ``FlopCounterMode`` counts
    them: matrix multiplications and convolutions, forward and backward (2 per
    multiply-add); elementwise operations count as 0.

    Taught in notebook 07 (faster training).
    """
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def flops_per_second(
    fn: Callable[[], object], num_calls: int = 10, warmup: int = 2
) -> float:
    """The FLOP rate that ``fn`` achieves: its counted FLOPs over its median time.

    Taught in notebook 07 (faster training).
    """
    return count_flops(fn) / seconds_per_call(fn, num_calls, warmup)
