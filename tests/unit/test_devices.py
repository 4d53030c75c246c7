"""torchprimer.devices: auto takes the accelerator torch.accelerator finds, else cpu;
named devices; clear errors.

The accelerator is faked with monkeypatch, so every branch runs on a CPU-only machine;
one test checks the real machine against torch.cuda and torch.backends.mps.
"""

from __future__ import annotations

import pytest
import torch

from torchprimer.devices import DeviceUnavailableError, available_devices, get_device
from torchprimer.notebook import ParameterError, check_parameters


@pytest.fixture
def fake(monkeypatch):
    """fake(accelerator=..., available=..., count=...) sets what this 'machine' has:
    the accelerator torch was built for (None: a CPU-only build), whether one is
    usable at run time, and how many there are."""

    def set_machine(
        accelerator: str | None = None, available: bool = True, count: int = 1
    ) -> None:
        def current_accelerator(check_available: bool = False) -> torch.device | None:
            if accelerator is None or (check_available and not available):
                return None
            return torch.device(accelerator)

        usable = accelerator is not None and available
        monkeypatch.setattr(
            torch.accelerator, "current_accelerator", current_accelerator
        )
        monkeypatch.setattr(
            torch.accelerator, "device_count", lambda: count if usable else 0
        )

    return set_machine


MACHINES = [  # (accelerator torch was built for, usable now, expected devices)
    ("cuda", True, ["cuda", "cpu"]),
    ("mps", True, ["mps", "cpu"]),
    ("cuda", False, ["cpu"]),  # a CUDA build on a machine without a GPU
    (None, False, ["cpu"]),  # a CPU-only build
]


@pytest.mark.parametrize(("accelerator", "available", "expected"), MACHINES)
def test_available_devices_best_first(fake, accelerator, available, expected):
    fake(accelerator, available)
    assert available_devices() == expected


@pytest.mark.parametrize(("accelerator", "available", "expected"), MACHINES)
def test_auto_picks_the_accelerator_else_cpu(fake, accelerator, available, expected):
    fake(accelerator, available)
    assert get_device("auto") == torch.device(expected[0])
    assert get_device(" AUTO ") == torch.device(expected[0])


def test_auto_on_this_machine_agrees_with_the_backends():
    """No fakes: torch.accelerator must find what torch.cuda / torch.backends.mps do."""
    if torch.cuda.is_available():
        expected = "cuda"
    elif torch.backends.mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert get_device("auto") == torch.device(expected)
    assert available_devices()[-1] == "cpu"


def test_cpu_is_always_available(fake):
    fake(None)
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("CPU") == torch.device("cpu")


def test_named_devices_when_present(fake):
    fake("cuda", count=2)
    assert get_device("cuda") == torch.device("cuda")
    assert get_device("cuda:1") == torch.device("cuda", 1)
    fake("mps")
    assert get_device("mps") == torch.device("mps")


@pytest.mark.parametrize(
    ("name", "accelerator", "available"),
    [
        ("cuda", None, False),
        ("cuda", "cuda", False),
        ("cuda:0", "cuda", False),
        ("cuda", "mps", True),
        ("mps", None, False),
        ("mps", "cuda", True),
    ],
)
def test_unavailable_device_raises_and_lists_what_is_available(
    fake, name, accelerator, available
):
    fake(accelerator, available)
    with pytest.raises(DeviceUnavailableError) as info:
        get_device(name)
    message = str(info.value)
    assert repr(name) in message
    assert f"Available: {', '.join(available_devices())}." in message


def test_cuda_index_out_of_range(fake):
    fake("cuda", count=2)
    assert get_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(
        DeviceUnavailableError, match=r"2 CUDA device\(s\): cuda:0..cuda:1"
    ):
        get_device("cuda:2")


def test_an_accelerator_the_primer_does_not_name_is_still_used_by_auto(fake):
    fake("xpu")
    assert available_devices() == ["xpu", "cpu"]
    assert get_device("auto") == torch.device("xpu")
    with pytest.raises(DeviceUnavailableError, match="Available: xpu, cpu."):
        get_device("cuda")


UNKNOWN = ["tpu", "gpu", "xla", "cuda:x", "cuda:", "", "cpu:0", "mps:0", "cpu:0:1"]


@pytest.mark.parametrize("name", UNKNOWN + ["auto:0"])
def test_unknown_names_raise_value_error(fake, name):
    fake("cuda", count=2)
    with pytest.raises(ValueError, match="not a device this primer knows") as info:
        get_device(name)
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", [None, 0, torch.device("cpu")])
def test_non_string_raises_value_error_naming_it(name):
    with pytest.raises(ValueError, match="not a device this primer knows") as info:
        get_device(name)
    assert f"DEVICE={name!r}" in str(info.value)


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1", "mps", *UNKNOWN])
def test_check_parameters_accepts_exactly_the_names_get_device_knows(fake, name):
    fake("cuda", count=2)
    try:
        get_device(name)
        known = True
    except ValueError:
        known = False
    except DeviceUnavailableError:  # mps on this fake machine: known, just missing
        known = True
    if known:
        check_parameters(DEVICE=name)
    else:
        with pytest.raises(ParameterError, match="DEVICE"):
            check_parameters(DEVICE=name)
