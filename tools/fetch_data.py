"""Fetch and verify FashionMNIST into ROOT/FashionMNIST/raw: ``make data``.

    python -m tools.fetch_data [--root data] [--no-download]

The work is :func:`torchprimer.data.ensure_fashion_mnist`; this is its command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from torchprimer.data import DataUnavailableError, ensure_fashion_mnist


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fetch_data",
        description="Fetch and verify FashionMNIST into ROOT/FashionMNIST/raw.",
    )
    parser.add_argument("--root", default="data", help="dataset root (default: data)")
    parser.add_argument(
        "--no-download", action="store_true", help="never use the network"
    )
    args = parser.parse_args(argv)
    try:
        path = ensure_fashion_mnist(args.root, download=not args.no_download, log=print)
    except DataUnavailableError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"FashionMNIST is ready in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
