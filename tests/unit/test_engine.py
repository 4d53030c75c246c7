"""Tests for torchprimer.engine and torchprimer.data.fashion_mnist_tensors on small
fabricated data (no dataset files needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchprimer import data as tpdata
from torchprimer.engine import evaluate, fit, predict, train_one_epoch
from torchprimer.fashion_mnist import fashion_mnist_tensors

CPU = torch.device("cpu")


# --- train / evaluate / predict -------------------------------------------------------


def test_training_reduces_loss_and_evaluate_matches_a_manual_computation(make_run):
    model, optimizer, scheduler, train_dataloader, *_ = make_run(
        num_epochs=10, dataloader=True
    )
    loss_fn = nn.CrossEntropyLoss()
    X, y = train_dataloader.dataset.tensors
    # batches of 50 over 192 samples: the last one holds only 42
    eval_dataloader = DataLoader(TensorDataset(X, y), batch_size=50)
    before = evaluate(model, eval_dataloader, loss_fn, CPU)
    for _ in range(10):
        train_metrics = train_one_epoch(
            model, train_dataloader, loss_fn, optimizer, CPU, scheduler
        )
    after = evaluate(model, eval_dataloader, loss_fn, CPU)
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > 0.8
    assert 0.0 <= train_metrics["accuracy"] <= 1.0
    # evaluate() weights by samples, so a ragged last batch does not bias the mean
    model.eval()
    with torch.no_grad():
        logits = model(X)
    assert after["loss"] == pytest.approx(loss_fn(logits, y).item(), rel=1e-5)
    assert after["accuracy"] == pytest.approx(
        (logits.argmax(1) == y).float().mean().item()
    )


def test_predict_keeps_the_order_of_an_unshuffled_dataloader(make_run, small_problem):
    model, *_ = make_run(dataloader=True)
    X, y = small_problem()
    model.eval()
    with torch.no_grad():
        expected = model(X).argmax(1)
    predictions = predict(model, DataLoader(TensorDataset(X, y), batch_size=7), CPU)
    assert predictions.device == CPU and predictions.dtype == torch.long
    assert torch.equal(predictions, expected)


def test_any_iterable_of_batches_works_not_only_a_dataloader(make_run, small_problem):
    model, optimizer, *_ = make_run(dataloader=True)
    X, y = small_problem()
    batches = [(X[i : i + 64], y[i : i + 64]) for i in range(0, len(y), 64)]
    from_list = evaluate(model, batches, nn.CrossEntropyLoss(), CPU)
    from_loader = evaluate(
        model,
        DataLoader(TensorDataset(X, y), batch_size=64),
        nn.CrossEntropyLoss(),
        CPU,
    )
    assert from_list == pytest.approx(from_loader)
    metrics = train_one_epoch(
        model, iter(batches), nn.CrossEntropyLoss(), optimizer, CPU
    )
    assert set(metrics) == {"loss", "accuracy"}


def test_evaluate_changes_no_weights_and_leaves_model_in_eval_mode(make_run):
    model, _, _, train_dataloader, *_ = make_run(dataloader=True)
    before = [p.clone() for p in model.parameters()]
    evaluate(model, train_dataloader, nn.CrossEntropyLoss(), CPU)
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


def test_train_one_epoch_steps_scheduler_once_per_batch_and_trains(make_run):
    model, optimizer, scheduler, train_dataloader, *_ = make_run(dataloader=True)
    model.eval()  # train_one_epoch must switch it back to training mode
    before = [p.clone() for p in model.parameters()]
    train_one_epoch(
        model, train_dataloader, nn.CrossEntropyLoss(), optimizer, CPU, scheduler
    )
    assert scheduler.last_epoch == len(train_dataloader) == 6
    assert model.training
    assert not any(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_one_epoch_clears_gradients_between_steps(small_problem):
    """Two steps on the same batch with plain SGD equal two manual steps, so old
    gradients cannot have been added to new ones."""
    torch.manual_seed(0)
    model = nn.Linear(20, 3)
    manual = nn.Linear(20, 3)
    manual.load_state_dict(model.state_dict())
    X, y = small_problem(16)
    loss_fn = nn.CrossEntropyLoss()
    train_one_epoch(
        model,
        [(X, y), (X, y)],
        loss_fn,
        torch.optim.SGD(model.parameters(), lr=0.5),
        CPU,
    )
    for _ in range(2):
        grads = torch.autograd.grad(loss_fn(manual(X), y), list(manual.parameters()))
        with torch.no_grad():
            for p, g in zip(manual.parameters(), grads):
                p -= 0.5 * g
    for a, b in zip(model.parameters(), manual.parameters()):
        torch.testing.assert_close(a, b)


# --- fit ------------------------------------------------------------------------------


def run_fit(make_run, num_epochs: int = 4, **kwargs):
    model, optimizer, scheduler, train_dataloader, val_dataloader, _ = make_run(
        dataloader=True, num_epochs=num_epochs
    )
    history = fit(
        model,
        train_dataloader,
        val_dataloader,
        nn.CrossEntropyLoss(),
        optimizer,
        CPU,
        num_epochs,
        scheduler=scheduler,
        progress=False,
        **kwargs,
    )
    return model, history


def test_fit_returns_one_row_per_epoch_and_is_reproducible(make_run):
    model, history = run_fit(make_run)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert set(history[0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
    }
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # a seeded DataLoader generator gives the same batches, so the same run
    model_again, history_again = run_fit(make_run)
    assert history_again == history
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), model_again.parameters())
    )


def test_fit_continues_from_start_epoch_and_history(make_run):
    """Two calls, epochs 1-2 and then 3-4, give exactly the run of one call."""
    _, full_history = run_fit(make_run, num_epochs=4)
    model, optimizer, scheduler, train_dataloader, val_dataloader, _ = make_run(
        dataloader=True, num_epochs=4
    )
    loss_fn = nn.CrossEntropyLoss()
    args = (model, train_dataloader, val_dataloader, loss_fn, optimizer, CPU)
    first = fit(*args, 2, scheduler=scheduler, progress=False)
    resumed = fit(
        *args, 4, scheduler=scheduler, start_epoch=2, history=first, progress=False
    )
    assert len(first) == 2, "fit must not modify the history it was given"
    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4]
    assert resumed == full_history


def test_fit_progress_bar_goes_to_stderr_only_when_asked(make_run, capsys):
    run_fit(make_run, num_epochs=1)
    assert capsys.readouterr().err == ""
    model, optimizer, _, train_dataloader, val_dataloader, _ = make_run(dataloader=True)
    fit(
        model,
        train_dataloader,
        val_dataloader,
        nn.CrossEntropyLoss(),
        optimizer,
        CPU,
        1,
    )
    assert "epochs" in capsys.readouterr().err


# --- fashion_mnist_tensors ------------------------------------------------------------


class FakeFashionMNIST:
    """Stands in for torchvision's FashionMNIST: random uint8 images whose label is the
    image's index, so every split can be traced back to the rows it came from."""

    def __init__(self, root, train: bool, download: bool = False) -> None:
        n = 600 if train else 100
        g = torch.Generator().manual_seed(1 if train else 2)
        self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
        self.targets = torch.arange(n)


@pytest.fixture
def fake_fashion_mnist(monkeypatch):
    monkeypatch.setattr(tpdata, "ensure_fashion_mnist", lambda root: Path(root))
    monkeypatch.setattr(tpdata.datasets, "FashionMNIST", FakeFashionMNIST)
    return FakeFashionMNIST


def test_fashion_mnist_tensors_splits_and_standardises(fake_fashion_mnist, tmp_path):
    splits = fashion_mnist_tensors(tmp_path, seed=0, val_size=100)
    assert set(splits) == {"train", "val", "test"}
    assert all(isinstance(s, TensorDataset) for s in splits.values())
    assert [len(splits[k]) for k in ("train", "val", "test")] == [500, 100, 100]
    X_train, y_train = splits["train"].tensors
    X_val, y_val = splits["val"].tensors
    X_test, y_test = splits["test"].tensors
    assert X_train.shape == (500, 1, 28, 28) and X_test.shape == (100, 1, 28, 28)
    assert X_train.dtype == torch.float32 and y_train.dtype == torch.int64
    # labels are the source rows here: train and validation are disjoint and complete
    assert not set(y_train.tolist()) & set(y_val.tolist())
    assert sorted(y_train.tolist() + y_val.tolist()) == list(range(600))
    assert torch.equal(y_test, torch.arange(100))
    # standardised with the training split's statistics, and only with those
    std, mean = torch.std_mean(X_train.double())
    assert mean.item() == pytest.approx(0.0, abs=1e-6)
    assert std.item() == pytest.approx(1.0, abs=1e-6)
    raw = FakeFashionMNIST(tmp_path, train=True).data.double() / 255
    m, s = raw[y_train].mean().item(), raw[y_train].std().item()
    expected_val = ((raw[y_val] - m) / s).unsqueeze(1).float()
    torch.testing.assert_close(X_val, expected_val)


def test_fashion_mnist_tensors_split_depends_on_the_seed_only(
    fake_fashion_mnist, tmp_path
):
    def val_rows(seed: int) -> list[int]:
        return fashion_mnist_tensors(tmp_path, seed, val_size=50)["val"].tensors[1]

    assert torch.equal(val_rows(0), val_rows(0))
    assert not torch.equal(val_rows(0), val_rows(1))


@pytest.mark.parametrize("val_size", [0, -5, 600, 601])
def test_fashion_mnist_tensors_rejects_an_impossible_val_size(
    fake_fashion_mnist, tmp_path, val_size
):
    with pytest.raises(ValueError, match=rf"val_size must be 1 to 599, not {val_size}"):
        fashion_mnist_tensors(tmp_path, seed=0, val_size=val_size)
