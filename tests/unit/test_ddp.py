"""Tests for chapter 09's script (torchprimer.ddp_train), torchprimer.launch and
torchprimer.processes: real torchrun processes on
random images (no dataset needed), free ports, and no process left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from torchprimer import processes
from torchprimer.ddp_helpers import parse_args
from torchprimer.ddp_train import check_restartable, init_distributed, train_ddp
from torchprimer.launch import TorchrunError, torchrun
from torchprimer.models import MLP
from torchprimer.notebook import ParameterError, check_parameters

TRAIN_IMAGES, BATCH_SIZE, NUM_EPOCHS = 400, 20, 2  # 10 steps per epoch, 2 processes
STEPS_PER_EPOCH = TRAIN_IMAGES // (2 * BATCH_SIZE)
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
METRICS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def script_args(out: Path, batch_size: int = BATCH_SIZE) -> list[str]:
    return [
        "-m",
        "torchprimer.ddp_train",
        "--out",
        str(out),
        "--dataset",
        "synthetic",
        "--train-subset",
        str(TRAIN_IMAGES),
        "--batch-size",
        str(batch_size),
        "--num-epochs",
        str(NUM_EPOCHS),
        "--lr",
        "0.01",
    ]


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of running processes that contain ``marker`` (Linux only)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if marker in text and str(os.getpid()) != cmdline.parent.name:
            found.append(text)
    return found


def assert_nothing_left(marker: str) -> None:
    if not Path("/proc/self/cmdline").exists():
        return  # no /proc to look in (macOS)
    deadline = time.monotonic() + 5  # a process may take a moment to be reaped
    while (left := processes_mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left running: {left}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "final.pt", weights_only=True)


def metrics(out: Path) -> list[dict[str, float]]:
    history = json.loads((out / "result.json").read_text())["history"]
    return [{key: row[key] for key in METRICS} for row in history]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, list[str]]:
    """An uninterrupted run: 2 processes of BATCH_SIZE images each per step."""
    out = tmp_path_factory.mktemp("two_processes")
    try:
        lines = torchrun(
            ["--standalone", "--nproc-per-node=2", f"--log-dir={out / 'logs'}"]
            + script_args(out),
            env=ONE_THREAD,
            timeout=180,
        )
    finally:
        assert_nothing_left(str(out))
    return out, lines


def test_the_run_trains_in_two_processes_and_writes_its_results(two_processes):
    out, lines = two_processes
    hello = [
        line for line in lines if " of 2 (attempt 1): gloo on cpu, 1 thread" in line
    ]
    assert sorted(line[:8] for line in hello) == ["[rank 0]", "[rank 1]"], lines
    written = sorted(p.name for p in out.iterdir())
    assert written == ["final.pt", "last.pt", "logs", "result.json"]
    result = json.loads((out / "result.json").read_text())
    assert (result["world_size"], result["backend"], result["threads"]) == (
        2,
        "gloo",
        1,
    )
    assert [row["epoch"] for row in result["history"]] == list(range(1, NUM_EPOCHS + 1))
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert result["all_reduce_ms"] > 0


def test_two_processes_train_like_one_process_with_twice_the_batch(
    two_processes, tmp_path
):
    """Same initial weights, same samples per step: DDP's averaged gradient is the
    gradient of the combined batch, so the weights agree up to float rounding."""
    out, _ = two_processes
    args = parse_args(script_args(tmp_path, 2 * BATCH_SIZE)[2:])
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:  # one process, in this one: a world of size 1
        model, history = train_ddp(args, torch.device("cpu"))
    finally:
        dist.destroy_process_group()
    single = model.module.state_dict()
    distributed = final_weights(out)
    assert single.keys() == distributed.keys()
    difference = max((single[k] - distributed[k]).abs().max().item() for k in single)
    assert difference < 1e-5, difference
    torch.manual_seed(args.seed)
    initial = MLP().state_dict()  # what both runs started from
    moved = max((single[k] - initial[k]).abs().max().item() for k in single)
    assert moved > 1e-3, moved  # they trained: agreeing is not trivial
    for one, two in zip(history, metrics(out), strict=True):
        assert one["epoch"] == two["epoch"]
        assert abs(one["val_loss"] - two["val_loss"]) < 1e-5, (one, two)
        assert abs(one["train_loss"] - two["train_loss"]) < 1e-5, (one, two)
        assert abs(one["val_accuracy"] - two["val_accuracy"]) <= 0.002, (one, two)


def test_a_killed_process_is_restarted_and_resumes_from_the_checkpoint(
    two_processes, tmp_path
):
    """The rendezvous path of a multi-node job, on one node: a worker dies in epoch 2,
    torchrun restarts both, they resume from epoch 1's checkpoint and end with the
    weights of the uninterrupted run."""
    uninterrupted, _ = two_processes
    fail_at = STEPS_PER_EPOCH + 3
    rendezvous = [
        "--nnodes=1",
        "--nproc-per-node=2",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=localhost:{free_port()}",
        f"--rdzv-id={uuid.uuid4().hex}",
        "--max-restarts=1",
    ]
    env = ONE_THREAD | {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    try:
        lines = torchrun(
            [*rendezvous, f"--log-dir={tmp_path / 'logs'}", *script_args(tmp_path)]
            + ["--fail-at-step", str(fail_at)],
            env=env,
            timeout=240,
        )
    finally:
        assert_nothing_left(str(tmp_path))
    text = "\n".join(lines)
    assert f"killing myself at step {fail_at}" in text
    assert "process 0 of 2 (attempt 2)" in text
    assert "resuming from last.pt, saved after epoch 1" in text
    resumed, reference = final_weights(tmp_path), final_weights(uninterrupted)
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
    assert metrics(tmp_path) == metrics(uninterrupted)
    assert json.loads((tmp_path / "result.json").read_text())["attempt"] == 2


def test_restarts_need_a_store_of_their_own(monkeypatch):
    monkeypatch.delenv("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", raising=False)
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "0")
    check_restartable()  # no restarts: nothing to check
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "3")
    with pytest.raises(RuntimeError, match="TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1"):
        check_restartable()
    monkeypatch.setenv("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    check_restartable()


def test_fail_at_step_is_a_notebook_parameter():
    check_parameters(FAIL_AT_STEP=100)
    for bad in [0, -1, 2.5, "7"]:
        with pytest.raises(ParameterError, match="FAIL_AT_STEP="):
            check_parameters(FAIL_AT_STEP=bad)


def test_the_script_outside_torchrun_says_how_to_start_it(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(RuntimeError, match="start this script with torchrun"):
        init_distributed("cpu")
    assert not dist.is_initialized()


@pytest.mark.parametrize(
    ("option", "says"),
    [("--batch-size=0", "not 1 or more"), ("--num-epochs=two", "not a whole number")],
)
def test_bad_options_are_refused_with_the_reason(option, says, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--out", "x", option])
    assert says in capsys.readouterr().err


def test_torchrun_that_runs_too_long_is_stopped_with_its_workers(tmp_path):
    marker = f"{time.time_ns() % 10**6 + 1000}.5"  # an unusual sleep: it marks them
    start = time.monotonic()
    with pytest.raises(TorchrunError, match="ran longer than timeout=10 s"):
        torchrun(
            ["--standalone", "--nproc-per-node=2", f"--log-dir={tmp_path}"]
            + ["--no-python", "sleep", marker],
            timeout=10,
        )
    assert time.monotonic() - start < 10 + processes._STOP_WAIT_S + 10
    assert_nothing_left(f"sleep {marker}")


def test_stopping_a_launcher_stops_the_workers_it_would_leave_behind():
    """torchrun leaves its workers running when SIGTERM reaches it while it is still
    starting them. This launcher always does: it starts a worker in a session of its
    own and dies on SIGTERM without stopping it."""
    marker = f"{time.time_ns() % 10**6 + 1000}.5"
    launcher = (
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "time.sleep(600)\n"
    )
    process = processes.start_process_tree([sys.executable, "-c", launcher], os.environ)
    try:
        deadline = time.monotonic() + 60
        while not processes_mentioning(f"sleep {marker}"):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        processes.stop_process_tree(process)
        assert process.returncode == -signal.SIGTERM
        assert_nothing_left(f"sleep {marker}")
    finally:
        if process.poll() is None:
            process.kill()


def test_stopping_torchrun_stops_the_workers_it_started(tmp_path):
    """Workers run in sessions of their own, so killing torchrun's process group does
    not reach them: SIGTERM makes torchrun stop them first."""
    marker = f"{time.time_ns() % 10**6 + 1000}.25"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", f"--log-dir={tmp_path}", "--no-python"]
    command += ["sleep", marker]
    process = processes.start_process_tree(command, os.environ)
    try:
        deadline = time.monotonic() + 120
        while len(processes_mentioning(f"sleep {marker}")) < 3:  # torchrun + 2
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        processes.stop_process_tree(process)
        assert process.returncode is not None
        assert_nothing_left(f"sleep {marker}")
    finally:
        if process.poll() is None:
            process.kill()


def test_output_is_tidied_for_a_notebook():
    tidy = processes.tidy_line
    logged = (
        "E1127 07:36:41.278000 13860 torch/distributed/elastic/multiprocessing/"
        f"api.py:1002] failed (exitcode: -9) local_rank: 1 (pid: 7) of binary: "
        f"{sys.executable}\n"
    )
    assert tidy(logged) == "torchrun: failed (exitcode: -9) local_rank: 1 (pid: 7)"
    assert (
        tidy("[rank 0] epoch 1/2: train loss 2.3\n")
        == "[rank 0] epoch 1/2: train loss 2.3"
    )
    assert tidy('[rank0]:   File "/x/site-packages/torch/a.py", line 1, in f') is None
    assert tidy("[rank0]:     loss.backward()") is None
    assert tidy("[rank0]: RuntimeError: reset") == "[rank0]: RuntimeError: reset"
    warning = "/opt/venv/lib/python3.11/site-packages/torch/x.py:9: UserWarning: hm"
    assert tidy(warning) == "torch/x.py:9: UserWarning: hm"
    assert tidy("\n") is None


def test_a_torchrun_killed_by_sigkill_ends_the_call_and_leaves_no_worker(tmp_path):
    """Defect: when torchrun died abnormally, its workers (in sessions of their own)
    lived on and held its output open, so the loop over its output, and the cell,
    waited for them: here, for the 300 s timeout."""
    marker = f"{time.time_ns() % 10**6 + 1000}.75"
    caller = textwrap.dedent(f"""
        from torchprimer.launch import TorchrunError, torchrun
        try:
            torchrun(["--standalone", "--nproc-per-node=2", "--log-dir={tmp_path}",
                      "--no-python", "sleep", "{marker}"], timeout=300)
        except TorchrunError as err:
            print("raised:", str(err).splitlines()[0], flush=True)
    """)
    call = subprocess.Popen(
        [sys.executable, "-c", caller], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(workers := processes_mentioning(f"sleep {marker}")) < 3:
            assert call.poll() is None and time.monotonic() < deadline, workers
            time.sleep(0.2)
        agent = next(
            pid
            for pid in pids_mentioning(f"sleep {marker}")
            if "torch.distributed.run" in Path(f"/proc/{pid}/cmdline").read_text()
        )
        os.kill(agent, signal.SIGKILL)  # as the out-of-memory killer would
        out, _ = call.communicate(timeout=60)
    finally:
        if call.poll() is None:
            call.kill()
    assert out.strip() == "raised: torchrun exited with code -9. Its last lines:"
    assert_nothing_left(f"sleep {marker}")


def pids_mentioning(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            found.append(int(cmdline.parent.name))
    return found


def test_on_windows_the_whole_tree_is_ended_with_taskkill(monkeypatch):
    """terminate() would end torchrun alone; taskkill /T ends its workers too."""
    ran = []
    monkeypatch.setattr(processes, "_on_windows", lambda: True)
    monkeypatch.setattr(processes.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        processes.Watchdog(process, timeout=600).cancel()
        monkeypatch.setattr(process, "wait", lambda: None)
        processes.stop_process_tree(process)
        assert ran == [["taskkill", "/F", "/T", "/PID", str(process.pid)]]
    finally:
        process.kill()
        subprocess.Popen.wait(process)


def resume_with_one_stale_checkpoint(
    rank: int, outs: list[str], port: int, results: str
) -> None:
    """One process of a 2-process run whose processes see different files: rank 1's
    folder holds an old last.pt, rank 0's holds none (non-shared or cached storage)."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    device = init_distributed("cpu")
    try:
        args = parse_args(script_args(Path(outs[rank]))[2:])
        _, history = train_ddp(args, device)
        Path(results, f"rank{rank}.json").write_text(
            json.dumps([row["epoch"] for row in history])
        )
    finally:
        dist.destroy_process_group()


def test_processes_that_disagree_about_last_pt_follow_rank_0(tmp_path):
    """Defect: every process decided for itself whether last.pt existed, so one that
    saw an old copy resumed while the others started afresh, and they waited for each
    other forever in their first all-reduce."""
    stale = tmp_path / "stale"
    args = parse_args(script_args(stale)[2:] + ["--num-epochs", str(NUM_EPOCHS)])
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:  # an old run of one epoch leaves last.pt in rank 1's folder
        args.num_epochs = 1
        train_ddp(args, torch.device("cpu"))
    finally:
        dist.destroy_process_group()
    assert (stale / "last.pt").exists()
    fresh, results = tmp_path / "fresh", tmp_path / "results"
    fresh.mkdir()
    results.mkdir()
    outs = [str(fresh), str(stale)]
    context = torch.multiprocessing.start_processes(
        resume_with_one_stale_checkpoint,
        args=(outs, free_port(), str(results)),
        nprocs=2,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + 120
    try:
        while not context.join(timeout=1):
            assert time.monotonic() < deadline, "the processes wait for each other"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    epochs = [json.loads((results / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert epochs == [list(range(1, NUM_EPOCHS + 1))] * 2
