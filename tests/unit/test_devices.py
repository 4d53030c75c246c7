"""torchprimer.devices: auto picks cuda > mps > cpu, named devices, and clear errors.

CUDA and MPS availability is faked with monkeypatch, so every branch runs on a CPU-only
machine.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from torchprimer import devices
from torchprimer.devices import DeviceUnavailableError, available_devices, get_device

NOTEBOOK = (
    Path(__file__).resolve().parents[2] / "notebooks" / "03_building_models.ipynb"
)


@pytest.fixture
def fake(monkeypatch):
    """fake(cuda=..., mps=..., count=...) sets what this 'machine' has."""

    def set_machine(
        cuda: bool = False, mps: bool = False, count: int | None = None
    ) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        n = (1 if cuda else 0) if count is None else count
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return set_machine


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, ["cuda", "mps", "cpu"]),
        (True, False, ["cuda", "cpu"]),
        (False, True, ["mps", "cpu"]),
        (False, False, ["cpu"]),
    ],
)
def test_available_devices_best_first(fake, cuda, mps, expected):
    fake(cuda=cuda, mps=mps)
    assert available_devices() == expected


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, "cuda"),
        (True, False, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ],
)
def test_auto_picks_cuda_then_mps_then_cpu(fake, cuda, mps, expected):
    fake(cuda=cuda, mps=mps)
    assert get_device("auto") == torch.device(expected)
    assert get_device(" AUTO ") == torch.device(expected)


def test_cpu_is_always_available(fake):
    fake(cuda=False, mps=False)
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("CPU") == torch.device("cpu")


def test_named_devices_when_present(fake):
    fake(cuda=True, mps=True, count=2)
    assert get_device("cuda") == torch.device("cuda")
    assert get_device("cuda:1") == torch.device("cuda", 1)
    assert get_device("mps") == torch.device("mps")


@pytest.mark.parametrize(
    ("name", "cuda", "mps"),
    [
        ("cuda", False, False),
        ("cuda", False, True),
        ("mps", False, False),
        ("mps", True, False),
    ],
)
def test_unavailable_device_raises_and_lists_what_is_available(fake, name, cuda, mps):
    fake(cuda=cuda, mps=mps)
    with pytest.raises(DeviceUnavailableError) as info:
        get_device(name)
    message = str(info.value)
    assert repr(name) in message
    assert f"Available: {', '.join(available_devices())}." in message


def test_unavailable_error_is_a_runtime_error():
    assert issubclass(DeviceUnavailableError, RuntimeError)


def test_cuda_index_out_of_range(fake):
    fake(cuda=True, count=2)
    assert get_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(
        DeviceUnavailableError, match=r"2 CUDA device\(s\): cuda:0..cuda:1"
    ):
        get_device("cuda:2")


@pytest.mark.parametrize(
    "name", ["tpu", "gpu", "cuda:x", "cuda:", "", "cpu:0:1", "xla"]
)
def test_unknown_names_raise_value_error(fake, name):
    fake(cuda=True, mps=True)
    with pytest.raises(ValueError, match="not a device this primer knows"):
        get_device(name)


@pytest.mark.parametrize("name", [None, 0, torch.device("cpu")])
def test_non_string_raises_value_error(name):
    with pytest.raises(ValueError, match="must be a string"):
        get_device(name)


def _definitions(tree: ast.AST) -> dict[str, str]:
    return {
        node.name: ast.dump(node)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def test_notebook_03_teaches_the_same_code():
    """'Teach first, then reuse': notebook 03 shows this module's code, unchanged."""
    module = _definitions(ast.parse(Path(devices.__file__).read_text(encoding="utf-8")))
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    taught: dict[str, str] = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            if not src.lstrip().startswith(("%", "!")):
                taught |= _definitions(ast.parse(src))
    for name in ("DeviceUnavailableError", "available_devices", "get_device"):
        assert taught.get(name) == module[name], (
            f"notebook 03's {name} differs from torchprimer.devices"
        )
