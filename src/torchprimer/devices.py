"""Pick the device to run on: cuda, then mps, then cpu.

Taught in notebook 03 (building models).
"""

from __future__ import annotations

import torch

__all__ = ["available_devices", "get_device", "DeviceUnavailableError"]

KNOWN = ("cuda", "mps", "cpu")


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


def available_devices() -> list[str]:
    """The device types this machine can run on, best first (cpu is always last)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def get_device(name: str = "auto") -> torch.device:
    """Turn a DEVICE parameter into a ``torch.device``.

    Args:
        name: ``"auto"`` (cuda, then mps, then cpu), or ``"cuda"``, ``"cuda:1"``,
            ``"mps"``, ``"cpu"``.

    Raises:
        ValueError: ``name`` is not a device type this primer knows.
        DeviceUnavailableError: the device is not available here; the message lists
            what is.
    """
    if not isinstance(name, str):
        raise ValueError(
            "DEVICE must be a string such as 'auto', 'cpu', 'cuda' or 'mps', "
            f"got {name!r}"
        )
    wanted = name.strip().lower()
    available = available_devices()
    if wanted == "auto":
        return torch.device(available[0])
    kind, colon, index = wanted.partition(":")
    if kind not in KNOWN or (colon and not index.isdigit()):
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
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise DeviceUnavailableError(
            f"DEVICE={name!r} was requested but this machine has "
            f"{torch.cuda.device_count()} CUDA "
            f"device(s): cuda:0..cuda:{torch.cuda.device_count() - 1}"
        )
    return torch.device(wanted)
