"""tools.book: `make book` checks parameter names and explains failures."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tools.book import (
    BookError,
    execute,
    execute_in_place,
    finalize_progress_bars,
    main,
    parse_param,
)
from tools.course import declared_parameters, load


def write_notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def chapter(tmp_path):
    return write_notebook(
        tmp_path / "05_demo.ipynb",
        [
            ('DEVICE = "cpu"\nNUM_EPOCHS = 15  # passes\nLR = 4e-3', ["parameters"]),
            ("assert isinstance(NUM_EPOCHS, int)\nprint(NUM_EPOCHS * 2)", []),
        ],
    )


def test_declared_parameters_with_their_defaults(chapter):
    assert declared_parameters(load(chapter)) == {
        "DEVICE": '"cpu"',
        "NUM_EPOCHS": "15",
        "LR": "4e-3",
    }


def test_parse_param_reads_literals_and_keeps_other_text():
    assert parse_param("NUM_EPOCHS=3") == ("NUM_EPOCHS", 3)
    assert parse_param("TRAIN_SUBSET=None") == ("TRAIN_SUBSET", None)
    assert parse_param("DEVICE=cuda") == ("DEVICE", "cuda")
    assert parse_param("DEVICE=cpu extra") == ("DEVICE", "cpu extra")
    with pytest.raises(BookError, match="NAME=VALUE"):
        parse_param("NUM_EPOCHS 3")


def test_a_misspelt_parameter_stops_before_running_and_lists_the_real_ones(
    chapter, tmp_path, capsys
):
    assert main([str(chapter), "--out", str(tmp_path / "out"), "--param", "EPOCHS=1"])
    err = capsys.readouterr().err
    assert "05_demo.ipynb has no parameter EPOCHS" in err
    assert "NUM_EPOCHS = 15" in err and "LR = 4e-3" in err
    assert not (tmp_path / "out" / chapter.name).exists(), "nothing may have run"


def test_a_failing_cell_is_named_and_no_stale_copy_survives(chapter, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / chapter.name).write_text("{}")  # an older run's copy
    with pytest.raises(BookError) as info:
        execute(chapter, out_dir, {"NUM_EPOCHS": "1"}, cwd=tmp_path)
    assert "05_demo.ipynb: cell [3] raised AssertionError" in str(info.value)
    # the copy on disk is this run's, with the error in it
    cells = json.loads((out_dir / chapter.name).read_text())["cells"]
    assert any(
        o.get("output_type") == "error" for c in cells for o in c.get("outputs", [])
    )


def test_a_run_hides_the_injected_parameters_cell(chapter, tmp_path):
    out = execute(chapter, tmp_path / "out", {"NUM_EPOCHS": 2}, cwd=tmp_path)
    cells = json.loads(out.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"]["tags"]]
    assert len(injected) == 1 and "remove-cell" in injected[0]["metadata"]["tags"]
    assert "".join(cells[-1]["outputs"][0]["text"]) == "4\n"


def tqdm_widget_notebook() -> dict:
    """What a saved notebook holds after a tqdm.auto bar ran: a widget view whose text
    is the state at the start, and the widget states in the notebook's metadata."""
    state = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]},
        },
        "l": {"model_name": "HTMLModel", "state": {"value": "epochs:\u2007100%"}},
        "p": {
            "model_name": "FloatProgressModel",
            "state": {"value": 15.0, "max": 15.0},
        },
        "r": {
            "model_name": "HTMLModel",
            "state": {"value": "\u200715/15\u2007[00:14&lt;00:00,\u2007val_acc=0.897]"},
        },
    }
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    output = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": view,
            "text/plain": "epochs:   0%|          | 0/15 [00:00<?, ?epoch/s]",
        },
    }
    widgets = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    cell = {"cell_type": "code", "metadata": {}, "outputs": [output], "source": "fit()"}
    return {"cells": [cell], "metadata": {"widgets": widgets}}


def test_a_progress_widget_becomes_its_final_line():
    nb = tqdm_widget_notebook()
    assert finalize_progress_bars(nb) == 1
    (output,) = nb["cells"][0]["outputs"]
    assert output["data"] == {
        "text/plain": "epochs: 100%|██████████| 15/15 [00:14<00:00, val_acc=0.897]"
    }
    assert "widgets" not in nb["metadata"]


def test_make_execute_stores_one_final_line_per_progress_bar(tmp_path):
    path = write_notebook(
        tmp_path / "07_bar.ipynb",
        [
            ("SEED = 0", ["parameters"]),
            (
                "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='run'): pass",
                [],
            ),
        ],
    )
    execute_in_place(path, cwd=tmp_path)
    nb = json.loads(path.read_text())
    outputs = nb["cells"][1]["outputs"]
    texts = ["".join(o.get("text", "")) + str(o.get("data", {})) for o in outputs]
    assert len(outputs) == 1, texts
    line = "".join(outputs[0]["data"]["text/plain"])
    assert line.startswith("run: 100%|██████████| 3/3"), line
    assert "widgets" not in nb["metadata"]


def test_a_normal_run_prints_one_line_per_chapter_and_a_summary(tmp_path, capfd):
    """Defect: make book printed ipykernel's "Kernel is running over TCP without
    encryption" for every chapter, and the profiler's C++ lines, into the terminal."""
    noisy = write_notebook(
        tmp_path / "07_noisy.ipynb",
        [
            ('DEVICE = "cpu"', ["parameters"]),
            ('import os\nos.write(2, b"USDT: profiler_start\\n")', []),
        ],
    )
    logs = tmp_path / "logs"
    code = main([str(noisy), "--out", str(tmp_path / "out"), "--logs", str(logs)])
    printed = capfd.readouterr()
    assert code == 0
    assert printed.err == ""
    lines = printed.out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("[1/1] 07_noisy.ipynb: done in ")
    assert lines[1].startswith("1 chapter(s) executed into ")
    assert "USDT: profiler_start" in (logs / "07_noisy.log").read_text()


@pytest.mark.parametrize("how", ["papermill", "in place"])
def test_a_run_records_where_and_when_it_ran(chapter, tmp_path, how):
    import datetime

    import torch

    if how == "papermill":
        out = execute(chapter, tmp_path / "out", {"NUM_EPOCHS": 2}, cwd=tmp_path)
    else:
        out = execute_in_place(chapter, cwd=tmp_path)
    record = json.loads(out.read_text())["metadata"]["torchprimer"]
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    assert record == {
        "executed": today,
        "torch": torch.__version__,
        "device": "cpu",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "seconds": record["seconds"],
    }
    assert isinstance(record["seconds"], int) and 0 <= record["seconds"] < 120
