"""Tests for torchprimer.engine on small fabricated data (no dataset files needed)."""

from __future__ import annotations

import ast
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from torchprimer import engine
from torchprimer.engine import (
    TensorLoader,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_one_epoch,
)

CPU = torch.device("cpu")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_training.ipynb"


def small_problem(n: int = 192, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable 3-class problem: the class is the argmax of a fixed linear map of the
    input."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 20, generator=g)
    W = torch.randn(20, 3, generator=g)
    return X, (X @ W).argmax(dim=1)


def make_run(seed: int = 0, num_epochs: int = 4, batch_size: int = 32):
    """Model, optimizer, per-step scheduler and a shuffling loader, all seeded."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    X, y = small_problem()
    generator = torch.Generator().manual_seed(seed)
    loader = TensorLoader(
        X, y, batch_size=batch_size, shuffle=True, generator=generator
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-2, total_steps=num_epochs * len(loader)
    )
    val_loader = TensorLoader(X[:64], y[:64], batch_size=50)
    return model, optimizer, scheduler, loader, val_loader, generator


# --- TensorLoader ---------------------------------------------------------------------


def test_tensor_loader_covers_every_sample_once_per_pass():
    X = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    loader = TensorLoader(
        X, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10)), "shuffle=True should change the order"
    for Xb, yb in batches:  # rows stay paired with their labels
        assert torch.equal(Xb.squeeze(1).long(), yb)


def test_tensor_loader_is_reproducible_and_reshuffles_each_pass():
    X, y = small_problem(50)
    a = TensorLoader(X, y, 8, shuffle=True, generator=torch.Generator().manual_seed(3))
    b = TensorLoader(X, y, 8, shuffle=True, generator=torch.Generator().manual_seed(3))
    first_a, first_b = torch.cat([yb for _, yb in a]), torch.cat([yb for _, yb in b])
    assert torch.equal(first_a, first_b)
    idx_pass1 = torch.cat([Xb[:, 0] for Xb, _ in a])
    idx_pass2 = torch.cat([Xb[:, 0] for Xb, _ in a])
    assert not torch.equal(idx_pass1, idx_pass2)


def test_tensor_loader_without_shuffle_keeps_order_and_checks_lengths():
    X, y = small_problem(10)
    assert torch.equal(torch.cat([yb for _, yb in TensorLoader(X, y, 3)]), y)
    with pytest.raises(ValueError, match="rows"):
        TensorLoader(X, y[:5], 3)


# --- train / evaluate / predict -------------------------------------------------------


def test_training_reduces_loss_and_evaluate_matches_a_manual_computation():
    model, optimizer, scheduler, loader, _, _ = make_run(num_epochs=10)
    loss_fn = nn.CrossEntropyLoss()
    before = evaluate(model, loader, loss_fn, CPU)
    for _ in range(10):
        train_metrics = train_one_epoch(
            model, loader, loss_fn, optimizer, CPU, scheduler
        )
    after = evaluate(model, loader, loss_fn, CPU)
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > 0.8
    assert 0.0 <= train_metrics["accuracy"] <= 1.0
    # evaluate() weights by samples, so a ragged last batch does not bias the mean
    X, y = loader.X, loader.y
    model.eval()
    with torch.no_grad():
        logits = model(X)
    assert after["loss"] == pytest.approx(loss_fn(logits, y).item(), rel=1e-5)
    assert after["accuracy"] == pytest.approx(
        (logits.argmax(1) == y).float().mean().item()
    )
    assert torch.equal(predict(model, TensorLoader(X, y, 7), CPU), logits.argmax(1))


def test_evaluate_changes_no_weights_and_leaves_model_in_eval_mode():
    model, _, _, loader, _, _ = make_run()
    before = [p.clone() for p in model.parameters()]
    evaluate(model, loader, nn.CrossEntropyLoss(), CPU)
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


def test_train_one_epoch_steps_scheduler_once_per_batch():
    model, optimizer, scheduler, loader, _, _ = make_run()
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, CPU, scheduler)
    assert scheduler.last_epoch == len(loader)
    assert model.training


# --- checkpoints and resume -----------------------------------------------------------


def test_resume_equals_uninterrupted_run_exactly(tmp_path):
    num_epochs, split = 4, 2
    loss_fn = nn.CrossEntropyLoss()

    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=num_epochs)
    full_history = fit(
        model,
        loader,
        val_loader,
        loss_fn,
        optimizer,
        CPU,
        num_epochs,
        scheduler=scheduler,
        progress=False,
    )

    # first part, then checkpoint
    model_a, optimizer_a, scheduler_a, loader_a, val_a, gen_a = make_run(
        num_epochs=num_epochs
    )
    history_a = fit(
        model_a,
        loader_a,
        val_a,
        loss_fn,
        optimizer_a,
        CPU,
        split,
        scheduler=scheduler_a,
        progress=False,
    )
    path = save_checkpoint(
        tmp_path / "ckpt.pt", model_a, optimizer_a, scheduler_a, split, gen_a, history_a
    )
    # whatever happens to the random generators in between must not matter
    torch.manual_seed(12345)
    torch.rand(100)
    random.random()
    np.random.rand(3)

    # a fresh process would build everything anew (different seed on purpose) and load
    # the checkpoint
    model_b, optimizer_b, scheduler_b, loader_b, val_b, gen_b = make_run(
        seed=99, num_epochs=num_epochs
    )
    checkpoint = load_checkpoint(path, model_b, optimizer_b, scheduler_b, gen_b)
    assert checkpoint["epoch"] == split
    resumed_history = fit(
        model_b,
        loader_b,
        val_b,
        loss_fn,
        optimizer_b,
        CPU,
        num_epochs,
        scheduler=scheduler_b,
        start_epoch=checkpoint["epoch"],
        history=checkpoint["history"],
        progress=False,
    )

    assert resumed_history == full_history
    for (name, p_full), p_resumed in zip(
        model.named_parameters(), model_b.parameters()
    ):
        assert torch.equal(p_full, p_resumed), name
    assert scheduler_b.get_last_lr() == scheduler.get_last_lr()


def test_resume_without_generator_state_differs(tmp_path):
    """The test above can fail: skipping the loader's generator state changes the
    run."""
    num_epochs, split = 4, 2
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer, scheduler, loader, val_loader, _ = make_run(num_epochs=num_epochs)
    fit(
        model,
        loader,
        val_loader,
        loss_fn,
        optimizer,
        CPU,
        num_epochs,
        scheduler=scheduler,
        progress=False,
    )

    model_a, optimizer_a, scheduler_a, loader_a, val_a, _ = make_run(
        num_epochs=num_epochs
    )
    fit(
        model_a,
        loader_a,
        val_a,
        loss_fn,
        optimizer_a,
        CPU,
        split,
        scheduler=scheduler_a,
        progress=False,
    )
    path = save_checkpoint(
        tmp_path / "ckpt.pt", model_a, optimizer_a, scheduler_a, split
    )  # no generator
    model_b, optimizer_b, scheduler_b, loader_b, val_b, gen_b = make_run(
        seed=99, num_epochs=num_epochs
    )
    load_checkpoint(path, model_b, optimizer_b, scheduler_b, gen_b)
    fit(
        model_b,
        loader_b,
        val_b,
        loss_fn,
        optimizer_b,
        CPU,
        num_epochs,
        scheduler=scheduler_b,
        start_epoch=split,
        progress=False,
    )
    assert not all(
        torch.equal(a, b) for a, b in zip(model.parameters(), model_b.parameters())
    )


def test_checkpoint_restores_rng_states(tmp_path):
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


def test_checkpoint_loads_with_weights_only_and_map_location(tmp_path):
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
        "scheduler",
        "rng",
        "history",
    }


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, optimizer, scheduler, 1, generator)
    good_bytes = path.read_bytes()

    real_save = torch.save

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")  # a partial write, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.torch, "save", crash_midway)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, optimizer, scheduler, 2, generator)
    monkeypatch.setattr(engine.torch, "save", real_save)

    assert path.read_bytes() == good_bytes, (
        "the old checkpoint must survive a failed save"
    )
    assert os.listdir(tmp_path) == ["ckpt.pt"], "no temporary file may be left behind"
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_save_checkpoint_creates_the_folder_and_replaces_an_old_file(tmp_path):
    model, optimizer, scheduler, _, _, generator = make_run()
    path = tmp_path / "new" / "dir" / "ckpt.pt"
    save_checkpoint(path, model, optimizer, scheduler, 1, generator)
    save_checkpoint(path, model, optimizer, scheduler, 2, generator)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    assert os.listdir(path.parent) == ["ckpt.pt"]


# --- metrics --------------------------------------------------------------------------


def test_export_metrics_displays_json(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(
        IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw))
    )
    metrics = {"test_accuracy": 0.9, "epochs": 2, "train_seconds": 1.5, "device": "cpu"}
    assert engine.export_metrics(metrics) == metrics
    ((obj, raw),) = shown
    assert raw is True
    assert obj["application/json"] == metrics
    assert json.loads(obj["text/plain"]) == metrics


# --- the notebook teaches the same code -----------------------------------------------


def test_notebook_defines_the_same_code_as_the_engine():
    """Teach first, then reuse: every definition in notebook 05 that the engine also has
    is identical."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    module_src = Path(engine.__file__).read_text(encoding="utf-8")
    module_defs = {
        n.name: ast.get_source_segment(module_src, n)
        for n in ast.parse(module_src).body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    }
    found = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        if src.lstrip().startswith(("%", "!")):
            continue
        for node in ast.parse(src).body:
            if (
                isinstance(node, (ast.FunctionDef, ast.ClassDef))
                and node.name in module_defs
            ):
                notebook_def = ast.get_source_segment(src, node)
                assert notebook_def == module_defs[node.name], (
                    f"{node.name} differs between notebook 05 and engine.py"
                )
                found.add(node.name)
    taught = set(engine.__all__)
    assert found == taught, (
        f"engine functions not shown in notebook 05: {sorted(taught - found)}"
    )
