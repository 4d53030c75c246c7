"""Fetch and verify FashionMNIST into ROOT/FashionMNIST/raw: ``make data``.

    python -m tools.fetch_data [--root data] [--no-download] [--quiet]

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
    parser.add_argument(
        "--quiet", action="store_true", help="say only what changed (nothing if ready)"
    )
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        if not (args.quiet and message.startswith("ok ")):
            print(message)

    try:
        path = ensure_fashion_mnist(args.root, download=not args.no_download, log=log)
    except DataUnavailableError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"FashionMNIST is ready in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
