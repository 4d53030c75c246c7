"""torchprimer.paths: the chapters' path parameters are relative to the repository,
whatever the working directory."""

from __future__ import annotations

import pytest

from tools.course import ROOT
from torchprimer.paths import (
    ENV_VAR,
    RepositoryNotFoundError,
    repository_path,
    repository_root,
)


def test_the_repository_is_found_from_the_installed_package(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert repository_root() == ROOT


@pytest.mark.parametrize("where", [".", "notebooks", "notebooks/exercises"])
def test_inside_the_repository_a_path_is_relative_to_where_you_are(where, monkeypatch):
    monkeypatch.chdir(ROOT / where)
    found = repository_path("custom_dataset/data.txt")
    assert not found.is_absolute() and found.is_file()
    assert found.resolve() == ROOT / "custom_dataset" / "data.txt"


def test_outside_the_repository_a_path_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert repository_path("data") == ROOT / "data"


def test_an_absolute_path_is_kept(tmp_path):
    assert repository_path(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_the_setting_names_another_repository(tmp_path, monkeypatch):
    (tmp_path / "course.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    monkeypatch.chdir(ROOT)
    assert repository_path("models") == tmp_path / "models"


def test_a_setting_that_names_no_repository_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    says = f"{ENV_VAR}=.*has no course.toml"
    with pytest.raises(RepositoryNotFoundError, match=says):
        repository_root()
