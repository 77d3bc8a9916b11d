"""Reading run folders (trainer.runs, no Qt): statuses, pid files, file tails, the runs list."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.config import TrainConfig
from trainer.events import encode, make_event
from trainer.runs import (
    EVENTS_FILE,
    PID_FILE,
    RESUMABLE,
    STATUS_FILE,
    RunInfo,
    RunStatus,
    last_metrics_step,
    list_runs,
    pid_alive,
    read_pid_file,
    read_run_config,
    read_run_info,
    running_pid,
    status_text,
    tail_lines,
    tail_text,
)


def make_run(root: Path, name: str, *, iters: int = 100, steps: int = 0, events: list[dict] | None = None) -> Path:
    """A run folder with config.json, ``steps`` metrics records and the given events."""
    run = root / name
    run.mkdir(parents=True)
    TrainConfig(data=str(root / "data"), out=str(run), iters=iters).save(run / "config.json")
    if steps:
        lines = [json.dumps({"step": s, "losses": {"GAN": 1.0}}) for s in range(1, steps + 1)]
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if events is not None:
        (run / EVENTS_FILE).write_text("".join(encode(ev) + "\n" for ev in events))
    return run


def write_status(run: Path, status: str, message: str = "") -> None:
    size = (run / EVENTS_FILE).stat().st_size if (run / EVENTS_FILE).exists() else 0
    (run / STATUS_FILE).write_text(json.dumps({"status": status, "message": message, "events_size": size}))


# -- RunStatus --------------------------------------------------------------------------------------
def test_run_status_is_a_string_in_comparisons_dicts_and_json():
    assert RunStatus.DONE == "done" and "paused" == RunStatus.PAUSED
    assert {RunStatus.ERROR: 1}["error"] == 1 and {"error": 1}[RunStatus.ERROR] == 1
    assert "crashed" in RESUMABLE and "finished" not in RESUMABLE and "" not in RESUMABLE
    assert json.loads(json.dumps({"s": RunStatus.STOPPED})) == {"s": "stopped"}
    assert str(RunStatus.RUNNING) == "running" and f"{RunStatus.RUNNING}|{RunStatus.NEW:>4}" == "running| new"
    assert RunStatus.parse("unfinished") is RunStatus.UNFINISHED
    assert RunStatus.parse("bogus") is None and RunStatus.parse(None) is None


def test_status_text_names_a_failure_and_keeps_unknown_words():
    assert status_text(RunStatus.ERROR) == "failed" and status_text("error") == "failed"
    assert status_text("done") == "finished" == status_text(RunStatus.FINISHED)
    assert status_text("queued") == "queued"


# -- files ------------------------------------------------------------------------------------------
def test_read_run_config_is_empty_when_missing_or_not_an_object(tmp_path):
    assert read_run_config(tmp_path) == {}
    (tmp_path / "config.json").write_text("[1, 2]")
    assert read_run_config(tmp_path) == {}
    (tmp_path / "config.json").write_text("{broken")
    assert read_run_config(tmp_path) == {}
    (tmp_path / "config.json").write_text('{"iters": 5}')
    assert read_run_config(tmp_path) == {"iters": 5}


def test_tail_lines_drops_the_cut_first_line(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("".join(f"line {i:03d}\n" for i in range(100)))  # 9 bytes a line
    assert tail_lines(path, max_bytes=10_000)[0] == "line 000"
    tail = tail_lines(path, max_bytes=40)  # 40 bytes: 4 whole lines and a cut one
    assert tail == ["line 096", "line 097", "line 098", "line 099"]
    assert tail_text(path, 2) == ["line 098", "line 099"]
    assert tail_text(tmp_path / "missing.txt") == []


def test_last_metrics_step_skips_lines_that_are_not_records(tmp_path):
    assert last_metrics_step(tmp_path) is None
    (tmp_path / "metrics.jsonl").write_text('{"step": 4}\n{"step": 7, "losses": {}}\n{"note": 1}\nnot json\n')
    assert last_metrics_step(tmp_path) == {"step": 7, "losses": {}}


def test_pid_files_and_liveness(tmp_path):
    assert not pid_alive(0) and not pid_alive(-5)
    assert read_pid_file(tmp_path) is None
    (tmp_path / PID_FILE).write_text('{"pid": "12"}')
    assert read_pid_file(tmp_path) is None  # the pid must be an int
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not pid_alive(done.pid)
    (tmp_path / PID_FILE).write_text(json.dumps({"pid": done.pid, "started": 1.0}))
    assert read_pid_file(tmp_path) == {"pid": done.pid, "started": 1.0}
    assert running_pid(tmp_path) is None


# -- read_run_info ------------------------------------------------------------------------------------
def test_a_run_without_events_is_unfinished_until_its_last_step(tmp_path):
    assert read_run_info(make_run(tmp_path, "a", iters=10, steps=4)).status is RunStatus.UNFINISHED
    info = read_run_info(make_run(tmp_path, "b", iters=10, steps=10))
    assert info.status is RunStatus.FINISHED and info.step == 10 and info.total == 10
    assert info.data == str(tmp_path / "data") and info.name == "b" and not info.has_model
    empty = tmp_path / "c"
    empty.mkdir()
    assert read_run_info(empty).status is RunStatus.NEW


def test_final_events_decide_the_status(tmp_path):
    start = make_event("start", step=0, total=100)
    done = read_run_info(make_run(tmp_path, "done", steps=3, events=[start, make_event("done", step=100)]))
    assert done.status is RunStatus.FINISHED and done.step == 100
    failed = read_run_info(make_run(tmp_path, "err", events=[start, make_event("error", message="NaN/inf loss")]))
    assert failed.status is RunStatus.ERROR and failed.message == "NaN/inf loss"
    stopped = read_run_info(make_run(tmp_path, "stop", steps=5, events=[start, make_event("stopped", step=5)]))
    assert stopped.status is RunStatus.STOPPED and stopped.resumable


def test_a_started_run_without_a_final_event_or_process_crashed(tmp_path):
    run = make_run(tmp_path, "crash", steps=2, events=[make_event("start", step=0), make_event("step", step=2)])
    with open(run / EVENTS_FILE, "a") as f:
        f.write("Traceback (most recent call last):\n")  # not an event: skipped
    info = read_run_info(run)
    assert info.status is RunStatus.CRASHED and info.step == 2 and info.resumable


def test_the_apps_status_file_wins_while_the_events_did_not_grow(tmp_path):
    start = make_event("start", step=0)
    run = make_run(tmp_path, "p", steps=3, events=[start, make_event("stopped", step=3)])
    write_status(run, "paused")
    assert read_run_info(run).status is RunStatus.PAUSED  # the app knows a pause from a stop
    write_status(run, "done")
    assert read_run_info(run).status is RunStatus.FINISHED
    write_status(run, "crashed", "killed by signal SIGKILL")
    with open(run / EVENTS_FILE, "a") as f:  # a later session wrote more: the status file is stale
        f.write(encode(make_event("start", step=3)) + "\n")
    info = read_run_info(run)
    assert info.status is RunStatus.CRASHED and info.message == ""
    write_status(run, "crashed", "killed by signal SIGKILL")
    assert read_run_info(run).message == "killed by signal SIGKILL"
    write_status(run, "bogus")
    assert read_run_info(run).status is RunStatus.CRASHED  # an unknown word changes nothing


def test_a_live_process_named_in_the_pid_file_makes_the_run_running(tmp_path):
    run = make_run(tmp_path, "live", steps=1, events=[make_event("start", step=0)])
    child = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)",
                              str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"  # running: its /proc command line is in place
        (run / PID_FILE).write_text(json.dumps({"pid": child.pid, "started": 123.0}))
        info = read_run_info(run)
        if sys.platform.startswith("linux"):
            assert not pid_alive(child.pid, tmp_path / "another-run")  # a recycled pid is not the trainer
        assert info.status is RunStatus.RUNNING and info.pid == child.pid and info.started == 123.0
        assert not info.resumable
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert read_run_info(run).status is RunStatus.CRASHED


def test_run_info_resumable_needs_a_config():
    assert not RunInfo(Path("x"), RunStatus.PAUSED).resumable
    assert RunInfo(Path("x"), RunStatus.PAUSED, config={"iters": 1}).resumable
    assert not RunInfo(Path("x"), RunStatus.FINISHED, config={"iters": 1}).resumable


def test_list_runs_newest_first_and_only_run_folders(tmp_path):
    assert list_runs(tmp_path / "missing") == []
    old = make_run(tmp_path, "old", steps=1)
    new = make_run(tmp_path, "new", steps=1)
    os.utime(old / "config.json", (1_000_000, 1_000_000))
    os.utime(new / "config.json", (2_000_000, 2_000_000))
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "file.txt").write_text("x")
    events_only = tmp_path / "events-only"
    events_only.mkdir()
    (events_only / EVENTS_FILE).write_text(encode(make_event("start", step=0)) + "\n")
    (events_only / PID_FILE).write_text(json.dumps({"pid": 999_999_999, "started": 3_000_000.0}))
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["events-only", "new", "old"]
    assert runs[0].status is RunStatus.CRASHED and runs[1].started == pytest.approx(2_000_000)
