"""torchprimer.models.CNN and torchprimer.vision (chapter 06): sizes, parameter counts,
augmentation, the training recipe and test-time augmentation, on small fabricated
inputs."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from torchprimer.engine import predict
from torchprimer.loaders import TensorLoader
from torchprimer.models import CNN
from torchprimer.vision import AugmentedLoader, augment, predict_with_flips, train_cnn

ROOT = Path(__file__).resolve().parents[2]


def cnn_parameter_count(widths, hidden=128, in_channels=1, num_classes=10) -> int:
    count, n_in = 0, in_channels
    for n_out in widths:
        count += n_out * n_in * 9 + 2 * n_out  # conv without bias, BatchNorm gamma/beta
        n_in = n_out
    side = 28 // 2 ** len(widths)
    count += widths[-1] * side * side * hidden + hidden
    return count + hidden * num_classes + num_classes


def test_default_cnn_has_98554_parameters():
    assert (
        sum(p.numel() for p in CNN().parameters())
        == 98_554
        == cnn_parameter_count((16, 32, 64))
    )


def test_the_record_cnn_has_two_convolutions_per_block():
    model = CNN(widths=(32, 64, 128), convs=2)
    assert sum(p.numel() for p in model.parameters()) == 435_754
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 32),
        (32, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 128),
    ]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("widths", [(16, 32), (8, 16, 32), (4, 8, 8, 8)])
def test_cnn_shapes_and_parameter_count(widths):
    model = CNN(widths)
    assert sum(p.numel() for p in model.parameters()) == cnn_parameter_count(widths)
    features = model.features(torch.zeros(3, 1, 28, 28))
    side = 28 // 2 ** len(widths)
    assert features.shape == (3, widths[-1], side, side)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_batchnorm_train_and_eval_differ_and_eval_changes_nothing():
    torch.manual_seed(0)
    model = CNN()
    X = 3 + torch.randn(16, 1, 28, 28)
    model.train()
    out_train = model(X)
    bn = model.features[1]
    assert bn.num_batches_tracked.item() == 1
    running = bn.running_mean.clone()
    model.eval()
    out_eval = model(X)
    assert not torch.allclose(out_train, out_eval, atol=1e-3)
    assert torch.equal(bn.running_mean, running) and bn.num_batches_tracked.item() == 1


def brute_force_matches(
    original: torch.Tensor, out: torch.Tensor, padding: int
) -> bool:
    """Is ``out`` some crop of the edge-padded ``original``, mirrored or not?"""
    padded = nn.functional.pad(original[None], [padding] * 4, mode="replicate")[0]
    H, W = original.shape[-2:]
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[..., dy : dy + H, dx : dx + W]
            if torch.equal(crop, out) or torch.equal(crop.flip(-1), out):
                return True
    return False


def test_augment_keeps_shape_and_dtype_and_crops_each_image():
    X = torch.randn(32, 2, 9, 7)
    out = augment(X, padding=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == X.shape and out.dtype == X.dtype and out.device == X.device
    assert all(brute_force_matches(X[i], out[i], 2) for i in range(len(X)))


def test_augment_draws_per_image_and_is_deterministic_with_a_generator():
    X = torch.randn(64, 1, 28, 28)
    a = augment(X, generator=torch.Generator().manual_seed(1))
    b = augment(X, generator=torch.Generator().manual_seed(1))
    c = augment(X, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    unchanged = [torch.equal(a[i], X[i]) for i in range(len(X))]
    assert 0 < sum(unchanged) < len(X) // 2  # identity is 1 of 50 draws


def test_augment_with_no_padding_only_flips():
    X = torch.randn(40, 1, 5, 5)
    out = augment(X, padding=0, generator=torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], X[i].flip(-1)) for i in range(len(X))]
    kept = [torch.equal(out[i], X[i]) for i in range(len(X))]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(X)


def test_augmented_loader_serves_every_label_once_per_epoch():
    X, y = torch.randn(50, 1, 6, 6), torch.arange(50)
    loader = AugmentedLoader(X, y, 16, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 4
    labels = torch.cat([labels for _, labels in loader])
    assert torch.equal(labels.sort().values, y)
    plain = AugmentedLoader(X, y, 16, padding=None, generator=torch.Generator())
    for images, labels in plain:
        assert torch.equal(images, X[labels])


def tiny_data(n: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(
        0, 10, (n,), generator=g
    )


@pytest.mark.parametrize("one_cycle", [True, False])
def test_train_cnn_runs_on_a_tiny_subset(one_cycle):
    torch.manual_seed(0)
    X, y = tiny_data()
    model = CNN((4, 8))
    before = [p.detach().clone() for p in model.parameters()]
    train = AugmentedLoader(X, y, 32, generator=torch.Generator().manual_seed(0))
    val = TensorLoader(X[:64], y[:64], batch_size=64)
    history = train_cnn(model, train, val, torch.device("cpu"), 2, one_cycle=one_cycle)
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(torch.isfinite(torch.tensor(row["train_loss"])) for row in history)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    conv = model.features[4].weight  # a 4-D weight with more than one input channel
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not conv.is_contiguous()


class Mirrored(nn.Module):
    """Logits that change sign with the mirror image: TTA must average them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x[..., :2].mean(dim=(1, 2, 3)), x[..., -2:].mean(dim=(1, 2, 3))
        return torch.stack([left - right, right - left, 0.1 * left], dim=1)


def test_predict_with_flips_averages_the_softmax_of_both_views():
    X, y = tiny_data(40)
    loader = TensorLoader(X, y, batch_size=16)
    model = Mirrored()
    probs = model(X).softmax(dim=1) + model(X.flip(dims=[3])).softmax(dim=1)
    expected = probs.argmax(dim=1)
    assert torch.equal(predict_with_flips(model, loader, torch.device("cpu")), expected)
    assert not torch.equal(expected, predict(model, loader, torch.device("cpu")))


def cnn_benchmark():
    """benchmarks/train_cnn.py, imported as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "train_cnn_benchmark", ROOT / "benchmarks" / "train_cnn.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_removes_every_batchnorm():
    model = cnn_benchmark().without_batchnorm(CNN())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_ablation_changes_one_thing_per_row_and_prints_a_table(monkeypatch, capsys):
    module = cnn_benchmark()
    changes = {
        "recipe": {},
        "narrower": {"widths": (4, 8)},
        "two convs": {"widths": (4, 8), "convs": 2},
        "no BN": {"batchnorm": False},
    }
    monkeypatch.setattr(module, "ABLATION", changes)
    splits = {
        name: TensorDataset(*tiny_data(64, seed))
        for seed, name in enumerate(["train", "val", "test"])
    }
    args = argparse.Namespace(ablation_epochs=1, dtype="float32")
    table = module.ablation(lambda seed: splits, torch.device("cpu"), [0, 1], args)
    assert list(table.index) == list(changes)
    assert table.loc["narrower", "parameters"] < table.loc["recipe", "parameters"]
    assert table.loc["two convs", "parameters"] > table.loc["narrower", "parameters"]
    assert table.loc["no BN", "parameters"] < table.loc["recipe", "parameters"]
    assert table["gain"].iloc[0] == 0
    assert (table["min"] <= table["val acc mean"]).all()
    assert (table["val acc mean"] <= table["max"]).all()
    printed = capsys.readouterr().out
    assert "ablation: 1 epochs per run, seeds [0, 1], val accuracy" in printed
    assert f" {table.loc['recipe', 'parameters']} " in printed  # a whole number


def test_the_record_reports_every_seed_and_their_mean(monkeypatch):
    module = cnn_benchmark()
    monkeypatch.setattr(
        module, "RECORD", {"widths": (4, 8), "convs": 2, "num_epochs": 1}
    )
    splits = {
        name: TensorDataset(*tiny_data(64, seed))
        for seed, name in enumerate(["train", "val", "test"])
    }
    args = argparse.Namespace(epochs=None, dtype="float32")
    result = module.record(lambda seed: splits, torch.device("cpu"), [3, 4], args)
    assert [row["seed"] for row in result["seeds"]] == [3, 4]
    accuracies = [row["test acc"] for row in result["seeds"]]
    assert result["summary"]["test acc"]["mean"] == pytest.approx(sum(accuracies) / 2)
    assert result["summary"]["test acc"]["min"] == min(accuracies)
    assert result["recipe"]["precision"] == "float32"
    assert result["parameters"] == sum(
        p.numel() for p in CNN((4, 8), convs=2).parameters()
    )


def test_bfloat16_is_picked_only_on_a_cpu_with_native_bf16(monkeypatch):
    module = cnn_benchmark()
    for flags, expected in [
        ({"avx512_bf16": True}, torch.bfloat16),
        ({"amx_bf16": True}, torch.bfloat16),
        ({"avx2": True}, None),
    ]:
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda flags=flags: flags)
        assert module.pick_dtype("auto") is expected
    assert module.pick_dtype("bfloat16") is torch.bfloat16
    assert module.pick_dtype("float32") is None
