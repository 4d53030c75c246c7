"""Checks for the exercises of chapter 08
(notebooks/exercises/08_checkpoints_and_resuming_*.ipynb)."""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import torchprimer.checkpoints
from torchprimer.checkpoints import save_checkpoint
from torchprimer.engine import train_one_epoch
from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    attempt,
    describe,
    flat_weights,
    whole_number,
)
from torchprimer.loaders import TensorLoader
from torchprimer.models import MLP

__all__ = ["check", "registry", "save_as_if_on_gpu"]

registry = Registry("08")
check = registry.check
CPU = torch.device("cpu")


# --- Writing a file as a GPU run would --------------------------------------------

_AS_GPU: dict[str, str | None] = {"device": None}


def _tag_as_cuda(storage: Any) -> str | None:
    return _AS_GPU["device"] if storage.device.type == "cpu" else None


def _no_restore(storage: Any, location: str) -> None:
    return None  # leave loading to torch's own CPU and CUDA rules


def save_as_if_on_gpu(
    state_dict: dict[str, torch.Tensor], path: Path, device: str = "cuda:0"
) -> Path:
    """Save ``state_dict`` as ``torch.save`` does for tensors on ``device`` (a GPU
    such as ``"cuda:1"``): the file records that location for every tensor. No GPU
    is needed."""
    if not re.fullmatch(r"cuda:\d+", device):
        raise ValueError(f"device={device!r}: give a GPU such as 'cuda:0' or 'cuda:1'")
    if not getattr(torch.serialization, "_torchprimer_as_gpu", False):
        torch.serialization.register_package(0, _tag_as_cuda, _no_restore)
        torch.serialization._torchprimer_as_gpu = True
    _AS_GPU["device"] = device
    try:
        torch.save(state_dict, path)
    finally:
        _AS_GPU["device"] = None
    return Path(path)


@contextmanager
def _torch_load_watched() -> Iterator[list[dict[str, Any]]]:
    """Record the keyword arguments of every ``torch.load`` call made inside."""
    calls: list[dict[str, Any]] = []
    original = torch.serialization.load

    def load(*args: Any, **kwargs: Any) -> Any:
        calls.append(dict(kwargs, map_location=_map_location(args, kwargs)))
        return original(*args, **kwargs)

    torch.load = torch.serialization.load = load
    try:
        yield calls
    finally:
        torch.load = torch.serialization.load = original


def _map_location(args: tuple, kwargs: dict[str, Any]) -> Any:
    return args[1] if len(args) > 1 else kwargs.get("map_location")


# --- Exercise 1: what AdamW keeps ----------------------------------------------------


def _keys(value: Any) -> set[str]:
    if isinstance(value, str) or not all(isinstance(k, str) for k in value):
        raise TypeError
    return set(value)


@registry.exercise("adamw_state")
def _adamw_state(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = MLP()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        before = len(optimizer.state_dict()["state"])
        nn.CrossEntropyLoss()(model(torch.randn(4, 784)), torch.arange(4)).backward()
        optimizer.step()
    state = optimizer.state_dict()["state"]
    after, keys = len(state), set(state[0])
    guess = whole_number(
        answers.get("predicted_states_before"), "predicted_states_before"
    )
    if guess != before:
        raise NotYet(
            f"`predicted_states_before` is {guess!r}, but a new AdamW has {before} "
            "entries: it creates a parameter's state lazily, in its first step."
        )
    guess = whole_number(
        answers.get("predicted_states_after"), "predicted_states_after"
    )
    if guess != after:
        raise NotYet(
            f"`predicted_states_after` is {guess!r}. There is one entry per parameter "
            "tensor, and each `nn.Linear` has two: its weight and its bias."
        )
    try:
        guessed_keys = _keys(answers.get("predicted_keys"))
    except TypeError:
        raise NotYet(
            "`predicted_keys` should be a set of strings such as `{'a', 'b'}`."
        ) from None
    if guessed_keys != keys:
        raise NotYet(
            f"`predicted_keys` is {sorted(guessed_keys)}. AdamW keeps a step count "
            "and two running averages per parameter: of the gradient and of its "
            "square (`exp_avg`, `exp_avg_sq`)."
        )
    return "A checkpoint without them restarts AdamW's averages from zero."


# --- Exercise 2: a round trip by hand ------------------------------------------------


def _tiny_run(seed: int) -> tuple[nn.Module, Any, Any, TensorLoader]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(100)
        X, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.05)
    generator = torch.Generator().manual_seed(seed)
    loader = TensorLoader(X, y, batch_size=10, shuffle=True, generator=generator)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.05, total_steps=4 * len(loader)
    )
    return model, optimizer, scheduler, loader


_SHORTCUTS = ("save_checkpoint", "load_checkpoint")


@contextmanager
def _package_refused(*learner: Any) -> Iterator[list[str]]:
    """While the learner's functions run, ``torchprimer.checkpoints``'s
    save_checkpoint and load_checkpoint, and any name in the learner's globals bound
    to them, raise NotYet; the names used are recorded."""
    used: list[str] = []
    module = torchprimer.checkpoints
    replaced: list[tuple[Any, str, Any]] = []

    def refusing(name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            used.append(name)
            raise NotYet(
                f"Your code calls `torchprimer.checkpoints.{name}`. This exercise asks "
                "you to write the round trip by hand, with `torch.save`, `torch.load` "
                "and the `state_dict` methods."
            )

        return refuse

    try:
        for name in _SHORTCUTS:
            original = getattr(module, name)
            replaced.append((module, name, original))
            setattr(module, name, refusing(name))
            for function in learner:
                namespace = getattr(function, "__globals__", None) or {}
                for key, value in list(namespace.items()):
                    if value is original:
                        replaced.append((namespace, key, original))
                        namespace[key] = refusing(name)
        yield used
    finally:
        for target, key, original in reversed(replaced):
            if isinstance(target, dict):
                target[key] = original
            else:
                setattr(target, key, original)


def _train(run: tuple, epochs: range) -> None:
    model, optimizer, scheduler, loader = run
    for _ in epochs:
        train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, CPU, scheduler)


@registry.exercise("round_trip")
def _round_trip(answers: Answers) -> str:
    full = _tiny_run(0)
    _train(full, range(4))
    run = _tiny_run(0)
    _train(run, range(2))
    model, optimizer, scheduler, loader = run
    saved_weights, saved_generator = flat_weights(model), loader.generator.get_state()
    saved_lr = scheduler.get_last_lr()
    save_training, resume_training = (
        answers.get("save_training"),
        answers.get("resume_training"),
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        _package_refused(save_training, resume_training) as used,
    ):
        path = Path(folder) / "run.pt"
        attempt(
            "save_training(path, model, optimizer, scheduler, generator, 2)",
            save_training,
            path,
            model,
            optimizer,
            scheduler,
            loader.generator,
            2,
        )
        if not path.exists():
            raise NotYet("`save_training` wrote no file at `path`: call `torch.save`.")
        try:
            torch.load(path, weights_only=True)
        except Exception:
            raise NotYet(
                "The file cannot be read with `torch.load(path, weights_only=True)`: "
                "save state_dicts, tensors and numbers, and the generator's state "
                "(`generator.get_state()`), not the objects themselves."
            ) from None
        fresh = _tiny_run(1)
        model, optimizer, scheduler, loader = fresh
        with _torch_load_watched() as loads:
            done = attempt(
                "resume_training(path, model, optimizer, scheduler, generator)",
                resume_training,
                path,
                model,
                optimizer,
                scheduler,
                loader.generator,
            )
    if used:
        raise NotYet(
            f"Your code calls `torchprimer.checkpoints.{used[0]}`. This exercise asks "
            "you to write the round trip by hand, with `torch.save`, `torch.load` and "
            "the `state_dict` methods."
        )
    if any(call.get("weights_only") is False for call in loads):
        raise NotYet(
            "`resume_training` loads with `weights_only=False`, which runs whatever "
            "code the file holds. The checkpoint holds only tensors and plain data: "
            "load it with `torch.load(path, weights_only=True)`."
        )
    if done != 2:
        raise NotYet(
            f"After saving with epoch=2, `resume_training` returned {describe(done)}; "
            "return the number of epochs done that the file holds."
        )
    if not torch.equal(flat_weights(model), saved_weights):
        raise NotYet("The model's weights are not restored: `model.load_state_dict`.")
    if not optimizer.state:
        raise NotYet(
            "The optimizer's state is empty after resuming, so AdamW would restart "
            "its running averages: save `optimizer.state_dict()` and load it with "
            "`optimizer.load_state_dict`."
        )
    if scheduler.last_epoch != full[2].last_epoch // 2:
        raise NotYet(
            f"After resuming, the scheduler is at step {scheduler.last_epoch} instead "
            f"of {full[2].last_epoch // 2}, so the learning rate jumps back: save and "
            "load `scheduler.state_dict()`."
        )
    if scheduler.get_last_lr() != saved_lr:
        raise NotYet(
            f"The scheduler is at the right step, but its learning rate "
            f"(`get_last_lr()`) is {scheduler.get_last_lr()[0]:.3e} instead of "
            f"{saved_lr[0]:.3e}: restore the whole state "
            "with `scheduler.load_state_dict(...)`, which works for every scheduler, "
            "whatever it keeps."
        )
    if not torch.equal(loader.generator.get_state(), saved_generator):
        raise NotYet(
            "The loader's generator is not restored, so the next epochs shuffle in "
            "another order: save `generator.get_state()` and restore it with "
            "`generator.set_state(...)`."
        )
    _train(fresh, range(done, 4))
    if not torch.allclose(flat_weights(model), flat_weights(full[0]), atol=1e-6):
        raise NotYet(
            "Everything was restored, yet the resumed run ends with other weights "
            "than the uninterrupted one. Is every state_dict taken from the objects "
            "passed in?"
        )
    return "The resumed run ends with the uninterrupted run's weights."


# --- Exercise 3: resuming with the package -------------------------------------------


@registry.exercise("resume_everything")
def _resume_everything(answers: Answers) -> str:
    # load_checkpoint restores the saved random states: keep the notebook's own
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            return _resume_everything_checked(answers)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _resume_everything_checked(answers: Answers) -> str:
    make_run = answers.get("make_run")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        X, y = torch.randn(300, 1, 28, 28), torch.randint(0, 10, (300,))
    full = attempt("make_run(X, y, 4, 0)", make_run, X, y, 4, 0)
    _train(full, range(4))
    run = attempt("make_run(X, y, 4, 0)", make_run, X, y, 4, 0)
    _train(run, range(2))
    model, optimizer, scheduler, loader = run
    saved_steps = scheduler.last_epoch
    saved_generator = loader.generator.get_state()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.pt"
        save_checkpoint(path, model, optimizer, scheduler, 2, loader.generator)
        result = answers.call_as("resume", "resume(path, X, y, 4, 1)", path, X, y, 4, 1)
    if not isinstance(result, tuple) or len(result) != 5:
        raise NotYet(
            f"`resume` returned {describe(result)}; keep its `return` line: model, "
            "optimizer, scheduler, train_dataloader and the epochs done."
        )
    model, optimizer, scheduler, loader, done = result
    if scheduler.last_epoch != saved_steps:
        raise NotYet(
            f"After resuming, the scheduler is at step {scheduler.last_epoch} instead "
            f"of {saved_steps}: the learning rate restarts its warm-up. "
            "`load_checkpoint` restores the scheduler only if you pass it."
        )
    if not torch.equal(loader.generator.get_state(), saved_generator):
        raise NotYet(
            "The scheduler is restored, but the loader's generator is not, so the "
            "remaining epochs see the images in another order. Pass "
            "`train_dataloader.generator` to `load_checkpoint` too."
        )
    _train((model, optimizer, scheduler, loader), range(done, 4))
    if not torch.allclose(flat_weights(model), flat_weights(full[0]), atol=1e-6):
        raise NotYet(
            "The resumed run does not end with the uninterrupted run's weights. Pass "
            "the model, optimizer, scheduler and generator of the fresh run to "
            "`load_checkpoint`."
        )
    return "Model, optimizer, scheduler and generator: the run continues exactly."


# --- Exercise 4: a GPU checkpoint on a CPU -------------------------------------------


@registry.exercise("gpu_to_cpu")
def _gpu_to_cpu(answers: Answers) -> str:
    state = {"weight": torch.arange(6.0).reshape(2, 3), "bias": torch.tensor([1.0, 2])}
    load_weights = answers.get("load_weights")
    with tempfile.TemporaryDirectory() as folder:
        for where in ("cuda:0", "cuda:1", "cpu"):
            path = Path(folder) / f"saved_on_{where.replace(':', '')}.pt"
            if where == "cpu":
                torch.save(state, path)
            else:
                save_as_if_on_gpu(state, path, where)
            try:
                with _torch_load_watched() as loads:
                    loaded = load_weights(path)
            except NotYet:
                raise
            except Exception as exc:
                first = re.split(r"\. |\n", str(exc).strip())[0]
                if any(isinstance(call["map_location"], dict) for call in loads):
                    how = (
                        "A dict `map_location` moves only the locations it names; "
                        "`map_location='cpu'` brings tensors from every GPU."
                    )
                else:
                    how = (
                        "`torch.load` puts every tensor back on the device it was "
                        "saved on, unless `map_location` says where it should go: "
                        "`map_location='cpu'`."
                    )
                raise NotYet(
                    f"Loading a file saved on {where} stopped with "
                    f"{type(exc).__name__}: {first}. {how}"
                ) from None
            if not isinstance(loaded, dict) or set(loaded) != set(state):
                raise NotYet(
                    f"`load_weights` returned {describe(loaded)}; want the saved "
                    "state_dict, a dict of tensors."
                )
            for key, value in loaded.items():
                if not isinstance(value, torch.Tensor):
                    raise NotYet(f"`{key}` in the result is {describe(value)}.")
                if value.device.type != "cpu":
                    raise NotYet(
                        f"For a file saved on {where} the tensor {key!r} is on "
                        f"{value.device}; want the CPU: `map_location='cpu'`."
                    )
                if not torch.equal(value, state[key]):
                    raise NotYet(f"The tensor {key!r} does not hold the saved values.")
    return "map_location='cpu' loads a file from any GPU on any machine."


# --- Exercise 5: early stopping ------------------------------------------------------

CASES = [
    ([], 2, False, "no epoch has run yet"),
    ([0.80], 1, False, "the only epoch is the best one"),
    ([0.80, 0.79], 1, True, "1 epoch since the best, patience 1"),
    ([0.80, 0.79], 2, False, "1 epoch since the best, patience 2"),
    ([0.50, 0.60, 0.70], 1, False, "every epoch is a new best"),
    ([0.80, 0.84, 0.83, 0.84], 2, True, "a tie is not an improvement"),
    ([0.80, 0.84, 0.83, 0.85], 2, False, "the last epoch is a new best"),
    ([0.90, 0.80, 0.85, 0.86, 0.87], 3, True, "4 epochs since the best, patience 3"),
    ([0.90, 0.80, 0.85, 0.86, 0.87], 5, False, "4 epochs since the best, patience 5"),
]


@registry.exercise("early_stopping")
def _early_stopping(answers: Answers) -> str:
    for accuracies, patience, want, why in CASES:
        got = answers.call("should_stop", list(accuracies), patience)
        if not isinstance(got, bool | np.bool_):
            raise NotYet(f"`should_stop` returned {describe(got)}; return a bool.")
        got = bool(got)
        if got != want:
            raise NotYet(
                f"`should_stop({accuracies}, patience={patience})` returned {got}; "
                f"want {want} ({why})."
            )
    return "Stop once `patience` epochs have passed since the first best one."
