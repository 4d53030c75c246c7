"""Checks for the exercises of chapter 09
(notebooks/exercises/09_distributed_training_with_torchrun_*.ipynb)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from torchprimer.exercises import Answers, NotYet, Registry, attempt, describe

registry = Registry("09")
check = registry.check


# --- Exercise 1: shards, steps and the global batch ---------------------------------


@registry.exercise("shards_and_steps")
def _shards_and_steps(answers: Answers) -> str:
    num_samples, world_size, batch_size = 10_000, 3, 64
    per_process = math.ceil(num_samples / world_size)
    steps = math.ceil(per_process / batch_size)
    guess = answers.get("predicted_samples_per_process")
    if guess != per_process:
        hint = (
            " 10,000 / 3 is 3333.3: the sampler pads the shards to equal size by "
            "repeating the first indices, so that every process takes the same "
            "number of steps."
            if guess == 3333
            else " Each process takes every third index of the shuffled 10,000."
        )
        raise NotYet(f"`predicted_samples_per_process` is {guess!r}.{hint}")
    guess = answers.get("predicted_steps_per_epoch")
    if guess != steps:
        raise NotYet(
            f"`predicted_steps_per_epoch` is {guess!r}. A process makes one step per "
            f"batch of its own {per_process} images, 64 at a time, and a last, "
            "smaller batch counts too."
        )
    guess = answers.get("predicted_global_batch")
    if guess != world_size * batch_size:
        raise NotYet(
            f"`predicted_global_batch` is {guess!r}. `batch_size` is per process, "
            "and one step averages the gradients of all three processes' batches."
        )
    return "3,334 images and 53 steps per process; each step learns from 192 images."


# --- Exercise 2: set_epoch ------------------------------------------------------------


@registry.exercise("set_epoch")
def _set_epoch(answers: Answers) -> str:
    num_samples, world_size, num_epochs = 50, 2, 3
    per_rank = [
        answers.call_as(
            "epoch_orders",
            f"epoch_orders({num_samples}, {world_size}, {rank}, {num_epochs}, 0)",
            num_samples,
            world_size,
            rank,
            num_epochs,
            0,
        )
        for rank in range(world_size)
    ]
    for rank, orders in enumerate(per_rank):
        if not isinstance(orders, list) or len(orders) != num_epochs:
            raise NotYet(
                f"For rank {rank} and {num_epochs} epochs `epoch_orders` returned "
                f"{describe(orders)}; want a list of {num_epochs} lists of indices."
            )
    for epoch in range(num_epochs):
        together = sorted(int(i) for orders in per_rank for i in orders[epoch])
        if together != list(range(num_samples)):
            raise NotYet(
                f"In epoch {epoch} the two ranks' shards do not cover the "
                f"{num_samples} indices once each: every rank must use the same "
                "epoch number (and seed) in the same epoch."
            )
    first = [list(orders[0]) for orders in per_rank]
    for epoch in range(1, num_epochs):
        if [list(orders[epoch]) for orders in per_rank] == first:
            raise NotYet(
                f"Epoch {epoch} visits the indices in the same order as epoch 0. "
                "`DistributedSampler` shuffles with `seed + epoch`, and its epoch "
                "stays 0 until you call `sampler.set_epoch(epoch)` before each epoch."
            )
    return "A new order every epoch, and the same one in every process."


# --- Exercise 3: averaged gradients ---------------------------------------------------


@registry.exercise("gradient_average")
def _gradient_average(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 4))
        X, y = torch.randn(12, 5), torch.randint(0, 4, (12,))
    loss_fn = nn.CrossEntropyLoss()
    model.zero_grad()
    loss_fn(model(X), y).backward()
    whole = [p.grad.clone() for p in model.parameters()]
    shards = [(X[rank::4], y[rank::4]) for rank in range(4)]
    model.zero_grad(set_to_none=True)
    got = answers.call_as(
        "averaged_gradients",
        "averaged_gradients(model, loss_fn, shards)",
        model,
        loss_fn,
        shards,
    )
    if not isinstance(got, list | tuple) or len(got) != len(whole):
        raise NotYet(
            f"`averaged_gradients` returned {describe(got)}; want a list of "
            f"{len(whole)} tensors, one per parameter of the model."
        )
    for index, (g, w) in enumerate(zip(got, whole)):
        if not isinstance(g, torch.Tensor) or g.shape != w.shape:
            raise NotYet(
                f"Item {index} is {describe(g)}; want the gradient of parameter "
                f"{index}, shape {tuple(w.shape)}."
            )
    got = [g.detach() for g in got]
    if all(torch.allclose(g, w, rtol=1e-4, atol=1e-6) for g, w in zip(got, whole)):
        return "The mean of the shards' gradients is the gradient of the whole batch."
    if all(torch.allclose(g, 4 * w, rtol=1e-4, atol=1e-6) for g, w in zip(got, whole)):
        raise NotYet(
            "These are the sums of the shards' gradients, 4 times too large: divide by "
            "the number of shards."
        )
    shard_grads = []
    for X_shard, y_shard in shards:
        model.zero_grad()
        loss_fn(model(X_shard), y_shard).backward()
        shard_grads.append([p.grad.clone() for p in model.parameters()])
    accumulated = [
        sum(sum(s[k] for s in shard_grads[: i + 1]) for i in range(4)) / 4
        for k in range(len(whole))
    ]
    if all(
        torch.allclose(g, a, rtol=1e-4, atol=1e-6) for g, a in zip(got, accumulated)
    ):
        raise NotYet(
            "The gradients of earlier shards leak into later ones: `backward()` adds "
            "to `.grad`. Clear them (`model.zero_grad()`) before each shard."
        )
    raise NotYet(
        "The result is not the gradient of the whole batch. For each shard: clear "
        "the gradients, compute the loss on that shard, `backward()`, and copy the "
        "gradients; then average the copies over the shards."
    )


# --- Exercise 4: all_reduce of metrics ------------------------------------------------


def _spy_call(function: Any, partner: list | None, *args: Any) -> tuple[Any, list]:
    """Call ``function`` with ``dist.all_reduce`` replaced: it records each tensor and,
    given ``partner``'s recorded tensors, adds them, as a sum over two processes."""
    seen: list[torch.Tensor] = []
    real = dist.all_reduce

    def all_reduce(tensor: torch.Tensor, *rest: Any, **options: Any) -> None:
        seen.append(tensor.clone())
        if partner is not None and len(seen) <= len(partner):
            tensor += partner[len(seen) - 1].to(tensor.dtype)

    dist.all_reduce = all_reduce
    try:
        result = attempt("average_across_processes(metrics, count)", function, *args)
    finally:
        dist.all_reduce = real
    return result, seen


@registry.exercise("all_reduce_metrics")
def _all_reduce_metrics(answers: Answers) -> str:
    function = answers.get("average_across_processes")
    partner_metrics, partner_count = {"loss": 0.9, "accuracy": 0.5}, 30
    my_metrics, my_count = {"loss": 0.3, "accuracy": 0.8}, 10
    _, partner = _spy_call(function, None, dict(partner_metrics), partner_count)
    result, seen = _spy_call(function, partner, dict(my_metrics), my_count)
    if result is None or result is Ellipsis:
        raise NotYet(
            f"`average_across_processes` returned {result!r}: replace the `...` in "
            "its body with your code and `return` the result."
        )
    if not seen:
        raise NotYet(
            "`average_across_processes` never called `dist.all_reduce`, so each "
            "process would only know its own numbers."
        )
    if not isinstance(result, dict) or set(result) != set(my_metrics):
        raise NotYet(
            f"It returned {describe(result)}; want a dict with the same keys as "
            "`metrics`."
        )
    total = my_count + partner_count
    want = {
        key: (my_metrics[key] * my_count + partner_metrics[key] * partner_count) / total
        for key in my_metrics
    }
    got = {key: float(value) for key, value in result.items()}
    if all(abs(got[k] - want[k]) < 1e-6 for k in want):
        return "Sums of count and count × metric, divided: the mean over all images."
    plain = {k: (my_metrics[k] + partner_metrics[k]) / 2 for k in my_metrics}
    if all(abs(got[k] - plain[k]) < 1e-6 for k in plain):
        raise NotYet(
            "With 10 images in this process and 30 in the other, it returned the "
            "plain mean of the two processes' metrics. Weight each process by its "
            "count: all-reduce count and metric × count, then divide the sums."
        )
    raise NotYet(
        f"With this process at {my_metrics} over {my_count} images and another at "
        f"{partner_metrics} over {partner_count}, it returned {got}; want {want}."
    )
