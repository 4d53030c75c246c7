"""environment.yml (conda) and requirements.txt (pip) must pin the same packages."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def parse_requirements(lines: list[str]) -> dict[str, str]:
    pins = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)", line)
        assert m, f"not an exact pin: {raw!r} (use name==version)"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_requirements_pin_every_package_exactly():
    pins = parse_requirements((ROOT / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.14.1"
    assert pins["torchvision"] == "0.29.1"
    for name in [
        "matplotlib",
        "pandas",
        "jupyterlab",
        "ipykernel",
        "nbval",
        "papermill",
        "pytest",
        "tqdm",
    ]:
        assert name in pins, f"requirements.txt lacks {name}"


def test_environment_yml_matches_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps, "environment.yml must ask for python=3.11"
    assert "pip" in deps
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    conda_pkgs = [
        d for d in deps if isinstance(d, str) and d not in ("pip", "python=3.11")
    ]
    assert not conda_pkgs, (
        f"keep packages in the pip: section so the pins match: {conda_pkgs}"
    )
    from_env = parse_requirements(pip_lists[0])
    from_req = parse_requirements((ROOT / "requirements.txt").read_text().splitlines())
    only_env = {k: v for k, v in from_env.items() if from_req.get(k) != v}
    only_req = {k: v for k, v in from_req.items() if from_env.get(k) != v}
    assert not only_env and not only_req, (
        "environment.yml and requirements.txt disagree: "
        f"environment.yml has {only_env}, "
        f"requirements.txt has {only_req}"
    )
