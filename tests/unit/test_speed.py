"""Tests for torchprimer.speed on small fabricated inputs (no dataset needed)."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from torchprimer import speed
from torchprimer.models import MLP
from torchprimer.speed import (
    Autocast,
    count_flops,
    flops_per_second,
    roofline,
    seconds_per_call,
    training_step,
)


def test_seconds_per_call_warms_up_then_times_each_call():
    calls = []
    seconds = seconds_per_call(lambda: calls.append(1), num_calls=5, warmup=3)
    assert len(calls) == 8
    assert 0 <= seconds < 1


def test_seconds_per_call_is_the_median_call():
    durations = iter([0.0, 0.0, 0.05, 0.0])  # warm-up, then one slow call of three

    def fn() -> None:
        delay = next(durations)
        if delay:
            end = time.perf_counter() + delay
            while time.perf_counter() < end:
                pass

    assert seconds_per_call(fn, num_calls=3, warmup=1) < 0.04


def test_seconds_per_call_rejects_bad_counts():
    with pytest.raises(ValueError, match="num_calls >= 1 and warmup >= 0, not 0, 2"):
        seconds_per_call(lambda: None, num_calls=0)
    with pytest.raises(ValueError, match="not 3, -1"):
        seconds_per_call(lambda: None, num_calls=3, warmup=-1)


def test_training_step_trains(small_problem):
    torch.manual_seed(0)
    model = MLP()
    X, y = small_problem(32, shape=(1, 28, 28), classes=10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = training_step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    losses = [step().item() for _ in range(20)]
    assert losses[-1] < 0.5 * losses[0], losses


def test_training_step_with_a_dtype_runs_the_model_under_autocast(small_problem):
    torch.manual_seed(0)
    model = MLP()
    X, y = small_problem(32, shape=(1, 28, 28), classes=10)
    seen = []
    model.layers[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = training_step(
        model, nn.CrossEntropyLoss(), optimizer, X, y, torch.bfloat16
    )()
    assert seen == [torch.bfloat16]
    assert loss.dtype == torch.float32 and not loss.requires_grad
    assert all(p.dtype == torch.float32 for p in model.parameters())
    training_step(model, nn.CrossEntropyLoss(), optimizer, X, y)()
    assert seen[-1] == torch.float32


def test_autocast_runs_the_forward_in_bfloat16_and_returns_float32():
    torch.manual_seed(0)
    model = MLP()
    X = torch.randn(16, 1, 28, 28)
    wrapped = Autocast(model, torch.bfloat16)
    seen = []
    model.layers[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    with torch.no_grad():
        want, got = model(X), wrapped(X)
    assert seen == [torch.float32, torch.bfloat16]  # plain, then under autocast
    assert got.dtype == torch.float32 and got.shape == want.shape
    error, scale = (got - want).abs().max().item(), want.abs().max().item()
    assert 0 < error < 0.02 * scale, (error, scale)  # bfloat16: 8 significant bits
    assert not torch.is_autocast_enabled("cpu")  # the region ends with forward


def test_autocast_shares_the_wrapped_models_parameters():
    torch.manual_seed(0)
    model = MLP()
    wrapped = Autocast(model, torch.bfloat16)
    assert [id(p) for p in wrapped.parameters()] == [id(p) for p in model.parameters()]
    loss = nn.CrossEntropyLoss()(wrapped(torch.randn(8, 1, 28, 28)), torch.arange(8))
    assert loss.dtype == torch.float32
    loss.backward()  # outside autocast; the gradients reach the model's float32 weights
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 for g in grads)


def test_count_flops_counts_matmuls_forward_and_backward():
    layer = nn.Linear(8, 4, bias=False)
    X = torch.randn(5, 8)
    assert count_flops(lambda: layer(X)) == 2 * 5 * 8 * 4
    # backward: only the weight gradient (X needs none), another 2 * 5 * 8 * 4
    assert count_flops(lambda: layer(X).sum().backward()) == 2 * (2 * 5 * 8 * 4)
    assert count_flops(lambda: X.relu() + 1) == 0  # elementwise: not counted


def test_count_flops_of_an_mlp_training_step(small_problem):
    torch.manual_seed(0)
    model = MLP()
    X, y = small_problem(32, shape=(1, 28, 28), classes=10)
    optimizer = torch.optim.AdamW(model.parameters())
    step = training_step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    forward = sum(2 * a * b for a, b in [(784, 128), (128, 64), (64, 32), (32, 10)])
    first_layer = 2 * 784 * 128  # its input needs no gradient
    assert count_flops(step) == 32 * (3 * forward - first_layer)


def test_flops_per_second_divides_the_counted_flops_by_the_median_time(monkeypatch):
    A = torch.randn(64, 64)
    timed = []

    def half_a_second(fn, num_calls, warmup):
        timed.append((num_calls, warmup))
        return 0.5

    monkeypatch.setattr(speed, "seconds_per_call", half_a_second)
    rate = flops_per_second(lambda: A @ A, num_calls=3, warmup=1)
    assert rate == 2 * 64**3 / 0.5 and timed == [(3, 1)]


def test_roofline_splits_a_step_into_counted_operations_and_the_rest():
    layer = nn.Linear(64, 32)
    X = torch.randn(16, 64)
    step = lambda: layer(X).sum().backward()  # noqa: E731
    rows = roofline(step, peak_flops=1e9, num_steps=3)
    assert list(rows) == ["aten::addmm", "aten::mm", "rest", "step"]
    assert rows["aten::addmm"]["FLOPs"] == 2 * 16 * 64 * 32  # forward
    assert rows["step"]["FLOPs"] == count_flops(step) == 2 * (2 * 16 * 64 * 32)
    assert rows["step"]["at peak"] == rows["step"]["FLOPs"] / 1e9
    parts = sum(row["seconds"] for name, row in rows.items() if name != "step")
    assert parts == pytest.approx(rows["step"]["seconds"])
    assert rows["aten::mm"]["seconds"] > 0  # found in the profile


def test_roofline_times_the_step_without_the_profiler(monkeypatch):
    """The profiler adds a cost to every operation it records: a step timed under it
    would put that cost into the rest."""
    layer = nn.Linear(64, 32)
    X = torch.randn(16, 64)
    step = lambda: layer(X).sum().backward()  # noqa: E731
    timed = []

    def one_second(fn, num_calls, warmup):
        timed.append((fn, num_calls, torch.autograd.profiler._is_profiler_enabled))
        return 1.0

    monkeypatch.setattr(speed, "seconds_per_call", one_second)
    rows = roofline(step, peak_flops=1e9, num_steps=3)
    assert timed == [(step, 3, False)] and rows["step"]["seconds"] == 1.0
    ops = rows["aten::addmm"]["seconds"] + rows["aten::mm"]["seconds"]
    assert rows["rest"]["seconds"] == pytest.approx(1.0 - ops)


def test_on_an_accelerator_every_timing_waits_for_the_queued_work(monkeypatch):
    """Defect: on a GPU, fn() returns as soon as its kernels are queued, so the time
    measured the launches, not the work."""
    events = []
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda: events.append("sync"))
    seconds_per_call(lambda: events.append("call"), num_calls=2, warmup=1)
    assert events == ["call"] + ["sync", "call", "sync"] * 2
