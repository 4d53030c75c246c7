"""Tests for torchprimer.checkpoints on small fabricated data (no dataset needed)."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchprimer import checkpoints
from torchprimer.checkpoints import (
    CheckpointError,
    atomic_save,
    check_steps_left,
    epochs_since_best,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    train_with_checkpoints,
)
from torchprimer.engine import evaluate, train_one_epoch

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]


def train(model, optimizer, scheduler, loader, epochs):
    for _ in range(epochs):
        train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, CPU, scheduler)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def disturb_random_states() -> None:
    torch.manual_seed(12345)
    torch.rand(100)
    random.random()
    np.random.rand(3)


# --- exact resume ---------------------------------------------------------------------


def test_resume_equals_uninterrupted_run_exactly(make_run, tmp_path):
    model, optimizer, scheduler, loader, _, _ = make_run(num_epochs=4)
    train(model, optimizer, scheduler, loader, 4)

    model_a, optimizer_a, scheduler_a, loader_a, _, gen_a = make_run(num_epochs=4)
    train(model_a, optimizer_a, scheduler_a, loader_a, 2)
    path = save_checkpoint(
        tmp_path / "ckpt.pt", model_a, optimizer_a, scheduler_a, 2, gen_a, [{"e": 1}]
    )
    disturb_random_states()  # whatever happens in between must not matter

    # a fresh process builds everything anew (another seed on purpose) and loads
    model_b, optimizer_b, scheduler_b, loader_b, _, gen_b = make_run(seed=99)
    checkpoint = load_checkpoint(path, model_b, optimizer_b, scheduler_b, gen_b)
    assert checkpoint["epoch"] == 2 and checkpoint["history"] == [{"e": 1}]
    train(model_b, optimizer_b, scheduler_b, loader_b, 2)

    assert same_weights(model, model_b)
    assert scheduler_b.get_last_lr() == scheduler.get_last_lr()


def test_resume_with_a_dataloader_is_exact_too(make_run, small_problem, tmp_path):
    """A DataLoader draws its worker base seed and its permutation from its generator;
    restoring the generator's state restores both."""
    X, y = small_problem()

    def run(seed: int, epochs: int, checkpoint=None):
        model, optimizer, scheduler, *_ = make_run(seed=seed)
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(
            TensorDataset(X, y), batch_size=32, shuffle=True, generator=generator
        )
        if checkpoint is not None:
            load_checkpoint(checkpoint, model, optimizer, scheduler, generator)
        train(model, optimizer, scheduler, loader, epochs)
        return model, optimizer, scheduler, generator

    model, *_ = run(seed=0, epochs=4)
    model_a, optimizer_a, scheduler_a, generator_a = run(seed=0, epochs=2)
    path = save_checkpoint(
        tmp_path / "c.pt", model_a, optimizer_a, scheduler_a, 2, generator_a
    )
    disturb_random_states()
    model_b, *_ = run(seed=99, epochs=2, checkpoint=path)
    assert same_weights(model, model_b)


def test_resume_without_generator_state_differs(make_run, tmp_path):
    """The test above can fail: skipping the loader's generator state changes the
    run."""
    model, optimizer, scheduler, loader, _, _ = make_run()
    train(model, optimizer, scheduler, loader, 4)
    model_a, optimizer_a, scheduler_a, loader_a, _, _ = make_run()
    train(model_a, optimizer_a, scheduler_a, loader_a, 2)
    path = save_checkpoint(tmp_path / "ckpt.pt", model_a, optimizer_a, scheduler_a, 2)
    model_b, optimizer_b, scheduler_b, loader_b, _, gen_b = make_run(seed=99)
    load_checkpoint(path, model_b, optimizer_b, scheduler_b, gen_b)
    train(model_b, optimizer_b, scheduler_b, loader_b, 2)
    assert not same_weights(model, model_b)


def test_train_with_checkpoints_resumes_exactly(make_run, tmp_path):
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run()
    full = train_with_checkpoints(
        model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 4, tmp_path / "a"
    )
    model_a, optimizer_a, scheduler_a, loader_a, val_a, _ = make_run()
    train_with_checkpoints(
        model_a, loader_a, val_a, loss_fn, optimizer_a, scheduler_a, CPU, 2, tmp_path
    )
    disturb_random_states()
    model_b, optimizer_b, scheduler_b, loader_b, val_b, gen_b = make_run(seed=99)
    checkpoint = load_checkpoint(
        tmp_path / "last.pt", model_b, optimizer_b, scheduler_b, gen_b
    )
    resumed = train_with_checkpoints(
        *(model_b, loader_b, val_b, loss_fn, optimizer_b, scheduler_b, CPU, 4),
        tmp_path,
        history=checkpoint["history"],
    )
    assert [row["epoch"] for row in full] == [1, 2, 3, 4]
    assert resumed == full
    assert same_weights(model, model_b)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 4


def test_checkpoint_restores_rng_states(make_run, tmp_path):
    model, optimizer, scheduler, _, _, generator = make_run()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 0, generator)
    expected = (
        random.random(),
        np.random.rand(),
        torch.rand(1),
        torch.rand(1, generator=generator),
    )
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    torch.rand(5, generator=generator)
    load_checkpoint(path, model, optimizer, scheduler, generator)
    got = (
        random.random(),
        np.random.rand(),
        torch.rand(1),
        torch.rand(1, generator=generator),
    )
    assert got[:2] == expected[:2]
    assert torch.equal(got[2], expected[2]) and torch.equal(got[3], expected[3])


def test_checkpoint_loads_with_weights_only_and_map_location(make_run, tmp_path):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = save_checkpoint(
        tmp_path / "c.pt", model, optimizer, scheduler, 3, generator, [{"epoch": 1}]
    )
    seen_locations = []

    def to_cpu(storage, location):
        seen_locations.append(location)
        return storage

    checkpoint = torch.load(path, weights_only=True, map_location=to_cpu)
    assert checkpoint["epoch"] == 3 and checkpoint["history"] == [{"epoch": 1}]
    assert set(seen_locations) == {"cpu"}
    assert set(checkpoint) == {
        "epoch",
        "model",
        "optimizer",
        "optimizer_class",
        "scheduler",
        "scheduler_class",
        "rng",
        "history",
    }
    assert (checkpoint["optimizer_class"], checkpoint["scheduler_class"]) == (
        "AdamW",
        "OneCycleLR",
    )


def test_a_checkpoint_in_the_older_format_still_loads(make_run, tmp_path):
    """Files written before the class names were saved have no such keys."""
    model, optimizer, scheduler, _, _, generator = make_run()
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 1, generator)
    old = torch.load(path, weights_only=True)
    del old["optimizer_class"], old["scheduler_class"]
    torch.save(old, path)
    assert load_checkpoint(path, *make_run()[:3])["epoch"] == 1


# --- atomic saves ---------------------------------------------------------------------


def test_interrupted_save_keeps_the_previous_checkpoint(
    make_run, tmp_path, monkeypatch
):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, optimizer, scheduler, 1, generator)
    good_bytes = path.read_bytes()

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")  # a partial write, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", crash_midway)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, optimizer, scheduler, 2, generator)
    monkeypatch.undo()

    assert path.read_bytes() == good_bytes, "the old checkpoint must survive"
    assert os.listdir(tmp_path) == ["ckpt.pt"], "no temporary file may be left behind"
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_save_checkpoint_creates_the_folder_and_replaces_an_old_file(
    make_run, tmp_path
):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = tmp_path / "new" / "dir" / "ckpt.pt"
    save_checkpoint(path, model, optimizer, scheduler, 1, generator)
    save_checkpoint(path, model, optimizer, scheduler, 2, generator)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    assert os.listdir(path.parent) == ["ckpt.pt"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_saved_files_get_the_permissions_the_umask_allows(tmp_path, umask):
    """Defect: mkstemp made every checkpoint 0600, unreadable for anyone else."""
    old = os.umask(umask)
    try:
        path = atomic_save({"x": torch.zeros(2)}, tmp_path / "c.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    """Defect: ``kill -9`` during a save left hidden .tmp files forever."""
    path = tmp_path / "ckpt.pt"
    killed_mid_save = textwrap.dedent(
        f"""
        import os, signal, torch
        from torchprimer import checkpoints

        def save_then_die(obj, f):
            f.write(b"x" * 100_000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_then_die
        checkpoints.atomic_save({{"a": 1}}, {str(path)!r})
        """
    )
    for _ in range(3):  # each killed save removes the leftover of the one before
        done = subprocess.run([sys.executable, "-c", killed_mid_save], check=False)
        assert done.returncode == -9
        leftovers = list(tmp_path.iterdir())
        assert len(leftovers) == 1 and leftovers[0].name.startswith(".ckpt.pt.")
        assert leftovers[0].stat().st_size == 100_000
    # an older naming scheme (tempfile.mkstemp) and another checkpoint's temporary
    (tmp_path / ".ckpt.pt.k2j_x9aq.tmp").write_bytes(b"old")
    (tmp_path / f".other.pt.{os.getpid()}.0123abcd.tmp").write_bytes(b"in use")

    atomic_save({"a": 2}, path)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".other.pt.{os.getpid()}.0123abcd.tmp",
        "ckpt.pt",
    ]
    assert torch.load(path, weights_only=True) == {"a": 2}


def test_a_temporary_of_a_save_still_running_is_kept(tmp_path):
    in_flight = tmp_path / f".ckpt.pt.{os.getpid()}.0123abcd.tmp"
    in_flight.write_bytes(b"being written")
    atomic_save({"a": 1}, tmp_path / "ckpt.pt")
    assert in_flight.exists()


# --- bad input: refused with a message that names the file and says what to do --------


def test_an_empty_file_is_refused_with_a_clear_message(make_run, tmp_path):
    """Defect: a 0-byte file raised EOFError with an empty message."""
    path = tmp_path / "ckpt.pt"
    path.touch()
    with pytest.raises(CheckpointError, match=r"ckpt\.pt is empty \(0 bytes\)") as err:
        load_checkpoint(path, *make_run()[:3])
    assert "Resume from another checkpoint, or train from the start" in str(err.value)


@pytest.mark.parametrize("cut", ["half", "tail"])
def test_a_truncated_file_is_refused_with_a_clear_message(make_run, tmp_path, cut):
    """torch.load reports a cut-off zip file as 'OSError: [Errno 22] Invalid
    argument'."""
    model, optimizer, scheduler, _, _, generator = make_run()
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 1, generator)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if cut == "half" else data[:-10])
    with pytest.raises(CheckpointError, match=r"c\.pt cannot be loaded .*damaged"):
        read_checkpoint(path)


def test_a_file_that_is_not_a_torch_file_is_refused(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")  # torch.load: KeyError: '101'
    with pytest.raises(CheckpointError, match=r"notes\.pt cannot be loaded"):
        read_checkpoint(path)


def test_a_weights_only_file_is_refused_with_what_to_do_instead(make_run, tmp_path):
    """Defect: a bare state_dict gave ``KeyError: 'model'``."""
    model, optimizer, scheduler, *_ = make_run()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(CheckpointError, match="holds only weights") as err:
        load_checkpoint(path, model, optimizer, scheduler)
    assert "weights.pt" in str(err.value)
    assert "model.load_state_dict(torch.load(path, weights_only=True))" in str(
        err.value
    )
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_some_other_dict_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"epoch": 3, "note": "not a checkpoint"}, path)
    with pytest.raises(CheckpointError, match=r"other\.pt was not written by save_"):
        read_checkpoint(path)


def test_an_adamw_checkpoint_is_refused_by_sgd_before_anything_loads(
    make_run, tmp_path
):
    """Defect: the AdamW state loaded into SGD, whose first step then raised
    ``KeyError: 'momentum'``."""
    model, optimizer, scheduler, _, _, generator = make_run()
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 1, generator)
    torch.manual_seed(5)
    fresh = nn.Sequential(
        nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3)
    )
    before = [p.clone() for p in fresh.parameters()]
    sgd = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(
        CheckpointError,
        match="the optimizer AdamW, but the optimizer you passed is SGD",
    ):
        load_checkpoint(path, fresh, sgd)
    assert all(torch.equal(a, b) for a, b in zip(before, fresh.parameters()))
    assert "momentum" in sgd.param_groups[0], "the SGD optimizer must be untouched"


def test_a_scheduler_of_another_class_is_refused(make_run, tmp_path):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 1, generator)
    model_b, optimizer_b, *_ = make_run()
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer_b, T_max=10)
    with pytest.raises(
        CheckpointError,
        match="the scheduler OneCycleLR, but the scheduler you passed is Cosine",
    ):
        load_checkpoint(path, model_b, optimizer_b, cosine)


# --- resuming with more epochs than the schedule has ----------------------------------


def test_a_longer_schedule_than_the_saved_one_is_refused_at_load(make_run, tmp_path):
    """Defect: loading put the saved total_steps back, and training then stopped
    part-way with 'Tried to step 5 times'."""
    model, optimizer, scheduler, _, _, generator = make_run(num_epochs=4)
    path = save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 2, generator)
    model_b, optimizer_b, scheduler_b, *_ = make_run(num_epochs=6)
    with pytest.raises(CheckpointError, match="total_steps=24, yours has 36") as e:
        load_checkpoint(path, model_b, optimizer_b, scheduler_b)
    assert "load with scheduler=None" in str(e.value)
    assert scheduler_b.total_steps == 36


def test_more_epochs_than_the_schedule_covers_fail_before_any_step(make_run, tmp_path):
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=4)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="needs 36 more scheduler steps, but this"):
        train_with_checkpoints(
            model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 6, tmp_path
        )
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert not (tmp_path / "last.pt").exists()


def test_training_longer_with_a_new_schedule_works(make_run, tmp_path):
    """The way the error message suggests: load without the old scheduler, then give
    the extra epochs a schedule of their own."""
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=4)
    train_with_checkpoints(
        model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 4, tmp_path
    )
    model_b, optimizer_b, _, loader_b, val_b, gen_b = make_run(num_epochs=4)
    checkpoint = load_checkpoint(
        tmp_path / "last.pt", model_b, optimizer_b, None, gen_b
    )
    extra = torch.optim.lr_scheduler.OneCycleLR(
        optimizer_b, max_lr=1e-3, total_steps=2 * len(loader_b)
    )
    history = train_with_checkpoints(
        *(model_b, loader_b, val_b, loss_fn, optimizer_b, extra, CPU, 6, tmp_path),
        history=checkpoint["history"],
    )
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    assert extra.last_epoch == extra.total_steps


def test_check_steps_left_ignores_schedules_without_a_fixed_length(make_run):
    _, optimizer, *_ = make_run()
    check_steps_left(None, 10**6)
    check_steps_left(torch.optim.lr_scheduler.StepLR(optimizer, 1), 10**6)


# --- best checkpoint and early stopping -----------------------------------------------


def test_epochs_since_best_counts_from_the_first_best_value():
    rows = [{"val_accuracy": a} for a in (0.5, 0.7, 0.6, 0.7)]
    assert epochs_since_best(rows[:2]) == 0
    assert epochs_since_best(rows) == 2, "a tie is not an improvement"
    assert epochs_since_best([{"loss": 1.0}, {"loss": 2.0}], key="loss") == 0
    with pytest.raises(ValueError, match="history is empty"):
        epochs_since_best([])


def test_early_stopping_stops_after_patience_epochs_without_improvement(
    make_run, tmp_path
):
    """lr=0: the weights never change, so epoch 1 stays the best on every machine."""
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, _, loader, val_loader, _ = make_run(lr=0.0)
    history = train_with_checkpoints(
        *(model, loader, val_loader, loss_fn, optimizer, None, CPU, 10, tmp_path),
        patience=2,
    )
    assert [row["epoch"] for row in history] == [1, 2, 3]
    # resuming a run that has stopped does not train again
    again = train_with_checkpoints(
        *(model, loader, val_loader, loss_fn, optimizer, None, CPU, 10, tmp_path),
        patience=2,
        history=history,
    )
    assert again == history


def test_best_pt_holds_the_weights_of_the_best_epoch(make_run, tmp_path):
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=6)
    history = train_with_checkpoints(
        model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 6, tmp_path
    )
    best_model = make_run()[0]
    best_model.load_state_dict(torch.load(tmp_path / "best.pt", weights_only=True))
    best_accuracy = evaluate(best_model, val_loader, loss_fn, CPU)["accuracy"]
    assert best_accuracy == max(row["val_accuracy"] for row in history)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


# --- a load that fails changes nothing ------------------------------------------------


def everything(model, optimizer, scheduler) -> list[torch.Tensor]:
    """Every tensor and number a load could change, copied."""
    state = [v.clone() for v in model.state_dict().values()]
    state += [torch.tensor(group["lr"]) for group in optimizer.param_groups]
    state += [v.clone() for s in optimizer.state.values() for v in s.values()]
    return state + [torch.tensor(scheduler.last_epoch)]


def trained_run(make_run, seed):
    model, optimizer, scheduler, loader, *_ = make_run(seed=seed)
    train(model, optimizer, scheduler, loader, 1)  # optimizer state exists
    return model, optimizer, scheduler


@pytest.mark.parametrize("mismatch", ["architecture", "parameter groups", "scheduler"])
def test_a_load_that_fails_leaves_model_optimizer_and_scheduler_as_they_were(
    make_run, tmp_path, mismatch
):
    """Defect: a checkpoint of another architecture overwrote every layer that fitted
    before load_state_dict complained; one whose optimizer had another number of
    parameter groups raised after the model's weights had been replaced."""
    saved = trained_run(make_run, seed=0)
    path = save_checkpoint(tmp_path / "c.pt", *saved, epoch=1)
    model, optimizer, scheduler = trained_run(make_run, seed=1)
    if mismatch == "architecture":  # one more output: the last layer's shapes differ
        model[3] = nn.Linear(16, 4)
    elif mismatch == "parameter groups":
        optimizer = torch.optim.AdamW(
            [{"params": model[0].parameters()}, {"params": model[3].parameters()}]
        )
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.01, total_steps=7)
    before = everything(model, optimizer, scheduler)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, model, optimizer, scheduler)
    after = everything(model, optimizer, scheduler)
    assert len(after) == len(before)
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_another_architecture_is_named_by_its_parameters(make_run, tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", *trained_run(make_run, 0), epoch=1)
    model, optimizer, scheduler = trained_run(make_run, seed=1)
    model[3] = nn.Linear(16, 4)
    with pytest.raises(CheckpointError, match=r"another model's weights \(3.bias, 3.w"):
        load_checkpoint(path, model, optimizer, scheduler)


class Crash(Exception):
    """The machine goes down."""


def test_a_crash_between_the_two_saves_of_an_epoch_leaves_best_pt_right(
    make_run, tmp_path, monkeypatch
):
    """Defect: last.pt was written before best.pt, so a crash between them left last.pt
    saying the epoch was done and best.pt without its weights, for good. Every epoch
    here is a new best, and the second save of epoch 3 crashes."""
    scripted = iter([0.5, 0.6, 0.7, 0.7])  # the resumed run may redo epoch 3
    monkeypatch.setattr(
        checkpoints, "evaluate", lambda *args: {"accuracy": next(scripted)}
    )
    saves, real_save = [], checkpoints.atomic_save

    def crash_on_the_sixth_save(obj, path):
        saves.append(Path(path).name)
        if len(saves) == 6:
            raise Crash
        return real_save(obj, path)

    monkeypatch.setattr(checkpoints, "atomic_save", crash_on_the_sixth_save)
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=3)
    run = (model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 3, tmp_path)
    with pytest.raises(Crash):
        train_with_checkpoints(*run)
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=3)
    last = tmp_path / "last.pt"
    saved = load_checkpoint(last, model, optimizer, scheduler, loader.generator)
    run = (model, loader, val_loader, loss_fn, optimizer, scheduler, CPU, 3, tmp_path)
    train_with_checkpoints(*run, history=saved["history"])
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


# --- random states on other machines --------------------------------------------------


class FakeGPUs:
    """torch.cuda as seen on a machine with ``count`` GPUs, in memory."""

    def __init__(self, count: int) -> None:
        self.states = {i: torch.full((8,), i, dtype=torch.uint8) for i in range(count)}

    def install(self, monkeypatch) -> None:
        cuda = torch.cuda
        monkeypatch.setattr(cuda, "is_available", lambda: bool(self.states))
        monkeypatch.setattr(cuda, "device_count", lambda: len(self.states))
        monkeypatch.setattr(
            cuda, "get_rng_state_all", lambda: list(self.states.values())
        )
        monkeypatch.setattr(cuda, "set_rng_state", self.set_state)
        monkeypatch.setattr(cuda, "set_rng_state_all", self.refuse)

    def set_state(self, state: torch.Tensor, device: int = 0) -> None:
        assert device in self.states, f"no GPU {device} on this machine"
        self.states[device] = state.clone()

    def refuse(self, states) -> None:
        assert len(states) == len(self.states), "one state per GPU of this machine"


def test_random_states_of_more_gpus_than_this_machine_has_restore_those_it_has(
    monkeypatch,
):
    saved_on_four = FakeGPUs(4)
    saved_on_four.install(monkeypatch)
    state = checkpoints.capture_rng_state()
    assert len(state["cuda"]) == 4
    two = FakeGPUs(2)
    two.install(monkeypatch)
    checkpoints.restore_rng_state(state)
    assert [int(s[0]) for s in two.states.values()] == [0, 1]


def test_the_mps_random_state_is_saved_and_restored(monkeypatch):
    mps_state = {"now": torch.arange(4, dtype=torch.uint8)}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: mps_state["now"].clone())
    monkeypatch.setattr(
        torch.mps, "set_rng_state", lambda s: mps_state.update(now=s.clone())
    )
    state = checkpoints.capture_rng_state()
    mps_state["now"] = torch.zeros(4, dtype=torch.uint8)
    checkpoints.restore_rng_state(state)
    assert mps_state["now"].tolist() == [0, 1, 2, 3]
