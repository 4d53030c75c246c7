"""Checks for the exercises of chapter 09
(notebooks/exercises/09_distributed_training_with_torchrun_*.ipynb)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    attempt,
    describe,
    whole_number,
)

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
    repeated = world_size * per_process - num_samples
    guess = whole_number(answers.get("predicted_repeated"), "predicted_repeated")
    if guess != repeated:
        raise NotYet(
            f"`predicted_repeated` is {guess}. Three shards of {per_process} images "
            f"visit {world_size * per_process:,} images in all, out of {num_samples:,}."
        )
    return (
        "3,334 images and 53 steps per process; each step learns from 192 images. "
        "The sampler pads 10,000 to 10,002 by repeating the first 2 indices of its "
        "order: those 2 images count twice in the epoch."
    )


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
    epochs = [
        [list(orders[epoch]) for orders in per_rank] for epoch in range(num_epochs)
    ]
    for later in range(1, num_epochs):
        for earlier in range(later):
            if epochs[later] != epochs[earlier]:
                continue
            raise NotYet(
                f"Epoch {later} visits the indices in the same order as epoch "
                f"{earlier}. `DistributedSampler` shuffles with `seed + epoch`, where "
                "epoch is the number last given to `sampler.set_epoch` (0 if never): "
                "call it before each epoch, with that epoch's own number."
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
    sizes: list[int] = []  # the number of images of every forward pass
    hook = model[0].register_forward_pre_hook(
        lambda module, args: sizes.append(len(args[0]))
    )
    try:
        got = answers.call_as(
            "averaged_gradients",
            "averaged_gradients(model, loss_fn, shards)",
            model,
            loss_fn,
            shards,
        )
    finally:
        hook.remove()
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
    if any(size > 3 for size in sizes):
        raise NotYet(
            f"The model ran on {max(sizes)} images at once, but each of the 4 shards "
            "has 3: that is one process with the whole batch. Compute each shard's "
            "gradient on its own, as each of DDP's processes does, then average them."
        )
    if len(sizes) < len(shards):
        raise NotYet(
            f"The model ran {len(sizes)} time(s) for {len(shards)} shards: compute the "
            "loss of every shard with `model(X)` and its gradient with `backward()`."
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


# --- Exercise 4: BatchNorm and the shards -------------------------------------------


def _whole_and_halves_agree(model: nn.Module, training: bool) -> tuple[bool, float]:
    """Whether the whole batch's gradient equals the mean of its halves' gradients,
    and their relative difference, with ``model`` in training or eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(9)
        X, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    loss_fn = nn.CrossEntropyLoss()
    model.train(training)
    grads = []
    for X_part, y_part in [(X, y), (X[:4], y[:4]), (X[4:], y[4:])]:
        model.zero_grad()
        loss_fn(model(X_part), y_part).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    whole, average = grads[0], (grads[1] + grads[2]) / 2
    relative = ((average - whole).norm() / whole.norm()).item()
    return torch.allclose(average, whole, rtol=1e-5, atol=1e-7), relative


@registry.exercise("batchnorm_shards")
def _batchnorm_shards(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    for mode, training in [("train", True), ("eval", False)]:
        name = f"predicted_equal_in_{mode}_mode"
        guess = answers.get(name)
        if not isinstance(guess, bool):
            raise NotYet(f"`{name}` should be True or False, not {describe(guess)}.")
        equal, relative = _whole_and_halves_agree(model, training)
        if guess == equal:
            continue
        if training:
            raise NotYet(
                f"`{name}` is {guess}. In training mode BatchNorm normalises every "
                "sample with the mean and variance of the batch it is given: each "
                "half gets its own statistics, and the average of the halves' "
                f"gradients is off the whole batch's by {relative:.0%} of its length."
            )
        raise NotYet(
            f"`{name}` is {guess}. In eval mode BatchNorm normalises with its running "
            "statistics, fixed numbers: every sample's loss depends on that sample "
            "alone again, and the mean of the halves' gradients is the whole's."
        )
    return (
        "In training mode BatchNorm couples the samples of a batch, so N processes "
        "of batch B are not one process of N·B (nn.SyncBatchNorm shares the "
        "statistics, on accelerators only); in eval mode it is a fixed affine map."
    )


# --- Exercise 5: all_reduce of metrics ------------------------------------------------


@contextmanager
def _process_group_of_one() -> Iterator[None]:
    """A Gloo process group of this process alone (a HashStore in memory), for the
    time of the check, unless the notebook has one already."""
    if dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _spy_call(function: Any, partner: list | None, *args: Any) -> tuple[Any, list]:
    """Call ``function`` in a process group of one process, with ``dist.all_reduce``
    replaced: it records each tensor, runs the real all-reduce (which, alone, leaves
    the tensor as it is) and, given ``partner``'s recorded tensors, combines them,
    as an all-reduce over two processes would; ``dist.get_world_size()`` says 2."""
    seen: list[torch.Tensor] = []
    real = dist.all_reduce

    def all_reduce(
        tensor: torch.Tensor,
        op: Any = dist.ReduceOp.SUM,
        group: Any = None,
        async_op: bool = False,
    ) -> Any:
        seen.append(tensor.clone())
        work = real(tensor, op=op, group=group, async_op=async_op)
        if async_op:
            work.wait()
        if partner is not None and len(seen) <= len(partner):
            other = partner[len(seen) - 1].to(tensor.dtype)
            if op == dist.ReduceOp.SUM:
                tensor += other
            elif op == dist.ReduceOp.AVG:
                tensor.copy_((tensor + other) / 2)
            else:
                raise NotYet(
                    f"`dist.all_reduce` was called with op={op}: to add up the "
                    "processes' numbers, use the default, `dist.ReduceOp.SUM`."
                )
        return work

    replaced = {name: getattr(dist, name) for name in _OTHER_COLLECTIVES}
    replaced |= {"all_reduce": real, "get_world_size": dist.get_world_size}
    for name in _OTHER_COLLECTIVES:
        setattr(dist, name, _only_all_reduce(name))
    dist.all_reduce = all_reduce
    dist.get_world_size = lambda group=None: 2  # this process and its partner
    try:
        with _process_group_of_one():
            result = attempt(
                "average_across_processes(metrics, count)", function, *args
            )
    except NotYet as exc:
        message = str(exc)
        if seen and "NoneType" in message:
            raise NotYet(
                f"{message}. Was the result of `dist.all_reduce` assigned? It works "
                "in place: `dist.all_reduce(tensor)` leaves the sum in `tensor` "
                "itself and returns None; call it, then go on using `tensor`."
            ) from None
        raise NotYet(_process_group_hint(message)) from None
    finally:
        for name, original in replaced.items():
            setattr(dist, name, original)
    return result, seen


_OTHER_COLLECTIVES = [
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "broadcast",
    "broadcast_object_list",
    "gather",
    "gather_object",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
]


def _only_all_reduce(name: str) -> Any:
    """A stand-in for the collective ``dist.NAME`` that says to use all_reduce."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NotYet(
            f"`average_across_processes` called `dist.{name}`; this exercise (and "
            "its check, which plays the second process) is about `dist.all_reduce`: "
            "put count and count × metric in one tensor and all-reduce it, which "
            "leaves the sums in every process."
        )

    return refuse


def _process_group_hint(message: str) -> str:
    """``message``, or what to do instead when it is about the process group."""
    if "process group twice" in message:
        return (
            "`average_across_processes` creates a process group itself, but the "
            "processes of a run join their group once, at the start (as "
            "`init_distributed` does in notebook 09); the function only calls "
            "`dist.all_reduce`. To try it alone, create a group of one process "
            "around the call, as the cell under the function does."
        )
    if "not been initialized" in message:
        return (
            "`average_across_processes` called a collective outside any process "
            "group (did it destroy the group?). It runs inside a group: "
            "`dist.init_process_group('gloo', store=dist.HashStore(), rank=0, "
            "world_size=1)` makes one of this process alone, as the cell under the "
            "function does; the function itself only calls `dist.all_reduce`."
        )
    return message


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
    if all(abs(got[k] - my_metrics[k]) < 1e-6 for k in my_metrics):
        raise NotYet(
            f"It returned {got}, this process's own numbers, although "
            "`dist.all_reduce` was called: was the reduced tensor used? "
            "`dist.all_reduce(tensor)` changes `tensor` in place; all-reducing a "
            "copy (`tensor.clone()`) or a new tensor leaves yours as it was."
        )
    raise NotYet(
        f"With this process at {my_metrics} over {my_count} images and another at "
        f"{partner_metrics} over {partner_count}, it returned {got}; want {want}."
    )
