"""Turn a chapter's ``DEVICE`` parameter into a ``torch.device``.

Chapter 03 shows the idiom this builds on (the accelerator that ``torch.accelerator``
finds, else the CPU) and then imports :func:`get_device` from here; so does every later
chapter. What it adds: a name asks for one device, and a device this machine lacks is
an error that lists what it has, never a silent, much slower fall-back to the CPU.
"""

from __future__ import annotations

import torch

__all__ = [
    "DeviceUnavailableError",
    "KNOWN",
    "available_devices",
    "get_device",
    "parse_device",
]

KNOWN = ("cuda", "mps", "cpu")
NAMES = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


def parse_device(name: object) -> tuple[str, int | None]:
    """``"auto"`` -> ``("auto", None)``, ``"cuda:1"`` -> ``("cuda", 1)``, ``" CPU"`` ->
    ``("cpu", None)``; anything else raises ``ValueError`` that lists the names."""
    wanted = name.strip().lower() if isinstance(name, str) else ""
    kind, colon, index = wanted.partition(":")
    if kind == "auto" and not colon:
        return kind, None
    if kind not in KNOWN or (colon and (kind != "cuda" or not index.isdigit())):
        raise ValueError(
            f"DEVICE={name!r} is not a device this primer knows; use {NAMES}"
        )
    return kind, int(index) if colon else None


def available_devices() -> list[str]:
    """This machine's device types, best first: its accelerator (if any), then cpu."""
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return ["cpu"] if accelerator is None else [accelerator.type, "cpu"]


def get_device(name: str = "auto") -> torch.device:
    """The ``torch.device`` a ``DEVICE`` parameter names.

    ``"auto"`` takes the accelerator that ``torch.accelerator`` finds, else the CPU;
    or name one: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``. An unknown name
    raises ``ValueError``; a device this machine lacks, ``DeviceUnavailableError``.
    """
    kind, index = parse_device(name)
    available = available_devices()
    if kind == "auto":
        return torch.device(available[0])
    if kind not in available:
        raise DeviceUnavailableError(
            f"DEVICE={name!r} was requested but is not available on this machine. "
            f"Available: {', '.join(available)}. "
            "Use DEVICE='auto' to pick the best of these."
        )
    count = torch.accelerator.device_count()
    if index is not None and index >= count:
        raise DeviceUnavailableError(
            f"DEVICE={name!r} was requested but this machine has {count} CUDA "
            f"device(s): cuda:0..cuda:{count - 1}"
        )
    return torch.device(kind, index)
