"""Pick the device to run on: the accelerator ``torch.accelerator`` finds, else the CPU.

Taught in notebook 03 (building models).
"""

from __future__ import annotations

import torch

__all__ = ["available_devices", "get_device", "DeviceUnavailableError"]

KNOWN = ("cuda", "mps", "cpu")


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


def available_devices() -> list[str]:
    """This machine's device types, best first: its accelerator (if any), then cpu."""
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return ["cpu"] if accelerator is None else [accelerator.type, "cpu"]


def get_device(name: str = "auto") -> torch.device:
    """Turn a DEVICE parameter into a ``torch.device``.

    ``"auto"`` takes the accelerator that ``torch.accelerator`` finds, else the CPU;
    or name one: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``. An unknown name
    raises ``ValueError``; a device this machine lacks, ``DeviceUnavailableError``.
    """
    wanted = name.strip().lower() if isinstance(name, str) else ""
    available = available_devices()
    if wanted == "auto":
        return torch.device(available[0])
    kind, colon, index = wanted.partition(":")
    if kind not in KNOWN or (colon and (kind != "cuda" or not index.isdigit())):
        raise ValueError(
            f"DEVICE={name!r} is not a device this primer knows; "
            "use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        )
    if kind not in available:
        raise DeviceUnavailableError(
            f"DEVICE={name!r} was requested but is not available on this machine. "
            f"Available: {', '.join(available)}. "
            "Use DEVICE='auto' to pick the best of these."
        )
    count = torch.accelerator.device_count()
    if index and int(index) >= count:
        raise DeviceUnavailableError(
            f"DEVICE={name!r} was requested but this machine has {count} CUDA "
            f"device(s): cuda:0..cuda:{count - 1}"
        )
    return torch.device(wanted)
