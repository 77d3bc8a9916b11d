"""The Train tab and the trainer process (pytest-qt, offscreen; tiny runs at 64 px, ngf 4)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer  # noqa: E402

from spade_studio.app.loss_plot import LossPlot  # noqa: E402
from spade_studio.app.trainer_process import train_args_from_config, trainer_command  # noqa: E402
from spade_studio.app.trainer_tab import TrainerTab  # noqa: E402
from trainer.runs import PID_FILE, last_metrics_step, pid_alive, read_run_info  # noqa: E402

TINY = dict(size=64, ngf=4, ndf=8, spade_hidden=16, n_layers_D=3, batch=2, threads=1, low_priority=False,
            log_every=1, sample_every=0, save_every=100000)
LONG = 100000  # iterations of a run that a test ends itself
START_MS = 120_000  # a trainer start (python + torch import) on a busy 2-core machine


class StubWindow:
    def __init__(self) -> None:
        self.loaded: list[str] = []

    def load_model(self, path) -> None:
        self.loaded.append(str(path))


@pytest.fixture(scope="module")
def landscapes(tmp_path_factory) -> Path:
    from trainer.landscapes import make_landscapes

    root = tmp_path_factory.mktemp("landscapes") / "data"
    make_landscapes(root, 8, 64, 0)
    return root


def _kill_pid_files(folder: Path) -> None:
    for pf in folder.rglob(PID_FILE):
        try:
            pid = json.loads(pf.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            continue
        if pid_alive(pid):
            try:
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            except OSError:
                pass


@pytest.fixture
def make_tab(qtbot, tmp_path):
    """TrainerTab factory (runs under tmp_path/runs); every trainer process is killed afterwards."""
    tabs: list[TrainerTab] = []

    def make(window=None) -> TrainerTab:
        tab = TrainerTab(window if window is not None else StubWindow(), runs_dir=tmp_path / "runs")
        tab.resize(1300, 820)
        qtbot.addWidget(tab)
        tab.show()
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown(timeout_s=15)
    _kill_pid_files(tmp_path)


def ready(qtbot, tab: TrainerTab, data: Path, **settings) -> TrainerTab:
    tab.set_data_folder(data)
    qtbot.waitUntil(lambda: tab.data_check() is not None, timeout=60_000)
    tab.set_settings({**TINY, **settings})
    return tab


def wait_step(qtbot, tab: TrainerTab, step: int) -> None:
    qtbot.waitUntil(lambda: (tab.process.last_step or {}).get("step", 0) >= step or not tab.process.is_running(),
                    timeout=START_MS)
    assert tab.process.is_running(), f"the trainer ended early: {tab.process.status} {tab.process.error_message}"


def listed_status(qtbot, tab: TrainerTab, run: Path, status: str) -> bool:
    """Whether the runs list (refreshed in a worker thread) comes to show ``run`` with ``status``."""
    try:
        qtbot.waitUntil(lambda: dict(tab.runs()).get(run) == status, timeout=10_000)
    except AssertionError:
        pass
    return dict(tab.runs()).get(run) == status


def wait_end(qtbot, tab: TrainerTab, timeout: int = START_MS) -> str:
    qtbot.waitUntil(lambda: not tab.process.is_running(), timeout=timeout)
    return tab.process.status


# ---------------------------------------------------------------------------------------------
# without a trainer process
# ---------------------------------------------------------------------------------------------
def test_trainer_command_source_and_frozen(monkeypatch, tmp_path):
    prog, argv = trainer_command(["train", "--data", "d"])
    assert prog == sys.executable and argv == ["-m", "spade_studio.cli", "train", "--data", "d"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "spade-studio"))  # a build without the CLI beside it
    prog, argv = trainer_command(["train", "--data", "d"])
    assert prog == sys.executable and argv == ["--cli", "train", "--data", "d"]


def test_resume_arguments_reproduce_the_config(tmp_path):
    import argparse

    from trainer.cli import add_train_arguments, config_from_args
    from trainer.config import TrainConfig

    cfg = TrainConfig(data=str(tmp_path / "d"), out=str(tmp_path / "r"), size=64, ngf=4, ndf=8, spade_hidden=16,
                      n_layers_D=3, batch=2, iters=77, use_vae=True, flip=False, use_instance=False, lr=0.0003,
                      decay_start=50, ema=0.999, threads=1, init_from="m.safetensors", sample_every=0)
    p = argparse.ArgumentParser()
    add_train_arguments(p)
    again = config_from_args(p.parse_args(train_args_from_config(cfg.to_dict())))
    skip = {"beta1", "beta2"}  # no command-line options; the defaults are used
    assert {k: v for k, v in again.to_dict().items() if k not in skip} == \
        {k: v for k, v in cfg.to_dict().items() if k not in skip}


def test_importing_the_tab_does_not_load_torch():
    import subprocess

    code = "import sys, spade_studio.app.trainer_tab; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_loss_plot_series_resume_and_metrics(qtbot, tmp_path):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 260)
    for s in range(1, 11):
        plot.add_point(s, {"GAN": 0.1 * s, "D_real": 1.0, "D_Fake": None, "KLD": float("nan")})
    assert plot.series_names() == ["GAN", "D_real"]
    assert len(plot.points("GAN")) == 10
    plot.add_point(6, {"GAN": 5.0})  # resumed from an earlier checkpoint: history from step 6 is replaced
    assert [s for s, _ in plot.points("GAN")] == [1, 2, 3, 4, 5, 6]
    assert plot.points("GAN")[-1] == (6, 5.0)
    plot.set_log_scale(True)
    plot.set_series_visible("D_real", False)
    plot.show()
    qtbot.mouseMove(plot, plot.rect().center())
    img = plot.grab().toImage()
    assert not img.isNull()
    lines = [json.dumps({"step": s, "losses": {"GAN": 1.0 / s, "GAN_Feat": 3.0}}) for s in (10, 20, 30)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\nnot json\n")
    assert plot.load_metrics(tmp_path / "metrics.jsonl") == 3
    assert plot.points("GAN_Feat") == [(10, 3.0), (20, 3.0), (30, 3.0)]
    assert plot.points("D_real") == []


def test_check_data_report_shows_problems(qtbot, make_tab, landscapes, tmp_path):
    data = tmp_path / "broken"
    shutil.copytree(landscapes, data)
    (data / "labels" / "scene_000003.png").unlink()  # an image without label map
    tab = ready(qtbot, make_tab(), data)
    chk = tab.data_check()
    assert not chk.report.fatal and chk.report.usable == 7
    assert tab.setup.dataset.problems.isVisibleTo(tab)
    texts = []
    for i in range(tab.setup.dataset.problems.topLevelItemCount()):
        top = tab.setup.dataset.problems.topLevelItem(i)
        texts.append(top.text(0))
        texts += [top.child(j).text(1) for j in range(top.childCount())]
    assert any("image without label map" in t for t in texts)
    assert "images/scene_000003.png" in texts
    assert "7 usable pairs" in tab.setup.dataset.data_summary.text()
    assert "landscape" in tab.setup.dataset.data_summary.text() and "sky" in tab.setup.dataset.ids_label.text()
    assert tab.setup.dataset.thumbs_grid.count() == 4
    assert tab.setup.start_button.isEnabled()

    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    tab.set_data_folder(empty)
    qtbot.waitUntil(lambda: tab.data_check() is not None, timeout=60_000)
    assert tab.data_check().report.fatal
    assert "cannot start" in tab.setup.dataset.data_summary.text()
    assert not tab.setup.start_button.isEnabled() and not tab.start()


def test_starting_point_with_another_label_set_is_explained(qtbot, make_tab, landscapes, tmp_path):
    from spade_studio.model.checkpoint import save_model

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import make_tiny_bundle

    other = save_model(make_tiny_bundle("cityscapes", use_vae=False, ngf=8), tmp_path / "city.safetensors")
    same = save_model(make_tiny_bundle("landscape", use_vae=True, ngf=4), tmp_path / "land.safetensors")
    tab = ready(qtbot, make_tab(), landscapes)
    tab.set_start_point("file", other)
    qtbot.waitUntil(lambda: "re-initialised" in tab.setup.start_note.text(), timeout=30_000)
    assert "cityscapes" in tab.setup.start_note.text()
    assert tab.setup.options.ngf_box.value() == 8 and not tab.setup.options.ngf_box.isEnabled()
    assert "--init-from" in tab.train_args() and "--ngf" not in tab.train_args()
    tab.set_start_point("file", same)
    qtbot.waitUntil(lambda: "every layer is kept" in tab.setup.start_note.text(), timeout=30_000)
    assert tab.setup.options.vae_box.isChecked() and not tab.setup.options.vae_box.isEnabled()
    tab.set_start_point("scratch")
    assert tab.setup.options.ngf_box.isEnabled() and "--init-from" not in tab.train_args()


# ---------------------------------------------------------------------------------------------
# with a trainer process
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_progress_events_move_the_bar(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=24, sample_every=8)
    seen: list[int] = []
    tab.process.progress.connect(lambda step, total, eta: seen.append(step))
    assert tab.start()
    qtbot.waitUntil(lambda: tab.monitor.progress.value() >= 5, timeout=START_MS)
    assert tab.monitor.progress.maximum() == 24
    assert wait_end(qtbot, tab) == "done"
    assert tab.monitor.progress.value() == 24 and tab.status() == "done"
    assert seen == sorted(seen) and len(set(seen)) >= 20
    assert len(tab.monitor.plot.points("GAN")) == 24
    assert tab.monitor.sample_view.has_image() and "step" in tab.monitor.sample_caption.text()
    run = tab.process.run_dir
    assert (run / "model.safetensors").is_file() and not (run / PID_FILE).exists()
    assert listed_status(qtbot, tab, run, "finished")


@pytest.mark.slow
def test_stop_writes_a_checkpoint(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=LONG)
    assert tab.start()
    wait_step(qtbot, tab, 3)
    qtbot.mouseClick(tab.monitor.stop_button, Qt.MouseButton.LeftButton)
    assert tab.monitor.stop_button.text() == "Force stop"
    assert wait_end(qtbot, tab) == "stopped"
    step = tab.process.final_event["step"]
    run = tab.process.run_dir
    assert step >= 3
    assert [p.name for p in (run / "checkpoints").iterdir()] == [f"ckpt_{step:08d}.pt"]
    assert (run / "model.safetensors").is_file()
    assert read_run_info(run).status == "stopped" and listed_status(qtbot, tab, run, "stopped")
    assert tab.error_shown() is None


@pytest.mark.slow
def test_pause_then_resume_continues_from_the_checkpoint(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=LONG)
    assert tab.start()
    wait_step(qtbot, tab, 2)
    tab.pause()
    assert wait_end(qtbot, tab) == "paused"
    paused_at = tab.process.final_event["step"]
    run = tab.process.run_dir
    assert (run / "checkpoints" / f"ckpt_{paused_at:08d}.pt").is_file()
    assert listed_status(qtbot, tab, run, "paused")
    assert tab.monitor.resume_button.isVisible()
    points_before = len(tab.monitor.plot.points("GAN"))

    qtbot.mouseClick(tab.monitor.resume_button, Qt.MouseButton.LeftButton)
    assert tab.process.is_running()
    qtbot.waitUntil(lambda: tab.process.start_event is not None or not tab.process.is_running(), timeout=START_MS)
    assert tab.process.start_event is not None, tab.process.error_message
    assert tab.process.start_event["step"] == paused_at
    wait_step(qtbot, tab, paused_at + 2)
    assert len(tab.monitor.plot.points("GAN")) > points_before  # the curve continues from the loaded history
    assert tab.monitor.progress.value() >= paused_at + 2
    tab.stop()
    assert wait_end(qtbot, tab) == "stopped"


@pytest.mark.slow
def test_use_in_editor_loads_the_runs_model(qtbot, make_tab, landscapes):
    import numpy as np

    from spade_studio.imageio import read_label_map
    from spade_studio.model.synthesize import Synthesizer

    window = StubWindow()
    tab = ready(qtbot, make_tab(window), landscapes, iters=4)
    assert tab.start()
    assert wait_end(qtbot, tab) == "done"
    run = tab.process.run_dir
    assert listed_status(qtbot, tab, run, "finished")
    assert tab.select_run(run)
    assert tab.runs_panel.run_use_button.isEnabled()
    qtbot.mouseClick(tab.runs_panel.run_use_button, Qt.MouseButton.LeftButton)
    assert window.loaded == [str(run / "model.safetensors")]
    synth = Synthesizer(window.loaded[0], device="cpu")
    assert synth.label_set.name == "landscape"
    ids = read_label_map(landscapes / "labels" / "scene_000000.png").ids
    res = synth.render(ids, seed=0)
    assert res.image.shape == (64, 64, 3) and res.image.dtype == np.uint8
    assert res.image.std() > 0


@pytest.mark.slow
def test_killed_trainer_is_reported_as_crashed(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=LONG)
    assert tab.start()
    wait_step(qtbot, tab, 2)
    os.kill(tab.process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    qtbot.waitUntil(lambda: not tab.process.is_running(), timeout=20_000)
    assert tab.status() == "crashed" and tab.process.status == "crashed"
    err = tab.error_shown()
    assert err is not None and "killed" in (err[0] + err[1]).lower()
    assert "Resume" in err[1] or "checkpoint" in err[1]
    assert listed_status(qtbot, tab, tab.process.run_dir, "crashed")
    assert tab.monitor.resume_button.isVisible() and tab.monitor.log_view.isVisible()


@pytest.mark.slow
def test_trainer_error_event_is_shown(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=10, batch=16)  # 8 pairs: fewer than one batch
    assert tab.start()
    assert wait_end(qtbot, tab) == "error"
    err = tab.error_shown()
    assert err is not None and err[0] == "Not enough pairs"
    assert "fewer than one batch" in err[1]


@pytest.mark.slow
def test_editor_stays_responsive_while_training(qtbot, make_tab, landscapes):
    """While the trainer works, the GUI thread's event loop keeps serving other work between the
    tab's reads of the trainer's files: a 10 ms timer of the editor ticks between every two polls
    (event order, not wall-clock gaps), and each poll handles only what was written since the last."""
    tab = ready(qtbot, make_tab(), landscapes, iters=LONG)
    assert tab.start()
    wait_step(qtbot, tab, 1)
    order: list[str] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: order.append("tick"))
    tab.process._timer.timeout.connect(lambda: order.append("poll"))  # after the tab's own poll slot
    step0 = tab.process.last_step["step"]
    timer.start()
    qtbot.waitUntil(lambda: order.count("poll") >= 6 and tab.process.last_step["step"] >= step0 + 3
                    or not tab.process.is_running(), timeout=START_MS)
    timer.stop()
    assert tab.process.is_running() and tab.process.last_step["step"] >= step0 + 3  # training was active
    polls = [i for i, what in enumerate(order) if what == "poll"]
    starved = [(a, b) for a, b in zip(polls, polls[1:]) if "tick" not in order[a + 1:b]]
    assert not starved, f"no editor timer ran between polls {starved} of {len(polls)}"
    assert tab.monitor.progress.value() >= step0 + 3  # the polls did reach the widgets


@pytest.mark.slow
def test_close_keeps_training_in_the_background_and_a_new_tab_reattaches(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=LONG)
    assert tab.start()
    wait_step(qtbot, tab, 1)
    pid, run = tab.process.pid, tab.process.run_dir
    tab._ask_close_hook = lambda: "cancel"
    assert tab.confirm_close() is False and tab.process.is_running()
    tab._ask_close_hook = lambda: "background"
    assert tab.confirm_close() is True
    assert not tab.process.is_running()
    let_go_at = (last_metrics_step(run) or {}).get("step", 0)
    qtbot.waitUntil(lambda: (last_metrics_step(run) or {}).get("step", 0) > let_go_at or not pid_alive(pid, run),
                    timeout=60_000)
    assert pid_alive(pid, run), "the trainer must keep running after the app lets go"
    assert last_metrics_step(run)["step"] > let_go_at  # and keep training
    assert read_run_info(run).status == "running"

    again = make_tab()  # the next session of the app: it finds the run (worker thread) and follows it
    qtbot.waitUntil(again.process.is_running, timeout=20_000)
    assert again.process.is_running() and again.process.pid == pid and again.status() == "running"
    assert again.monitor.run_title.text() == run.name
    before = again.monitor.progress.value()
    qtbot.waitUntil(lambda: again.monitor.progress.value() > before, timeout=60_000)
    again._ask_close_hook = lambda: "stop"
    assert again.confirm_close() is True  # stop: SIGTERM, the trainer saves and exits by itself
    qtbot.waitUntil(lambda: not pid_alive(pid, run), timeout=60_000)
    info = read_run_info(run)
    assert info.status == "stopped" and any((run / "checkpoints").glob("ckpt_*.pt"))


@pytest.mark.slow
def test_measure_speed_runs_a_short_probe(qtbot, make_tab, landscapes):
    tab = ready(qtbot, make_tab(), landscapes, iters=1000)
    assert tab.measure_speed()
    qtbot.waitUntil(lambda: tab.measured_it_s() is not None or tab.setup.options.measure_button.isEnabled(), timeout=START_MS)
    assert tab.measured_it_s() and tab.measured_it_s() > 0
    assert "measured" in tab.setup.options.estimate_label.text()
    assert not list(tab.runs_dir.glob("*"))  # the probe leaves no run behind


@pytest.mark.parametrize("button, answer", [("Stop training", "stop"),
                                            ("Keep training in the background", "background"),
                                            ("Cancel", "cancel")])
def test_close_question_offers_stop_background_cancel(qtbot, make_tab, button, answer):
    from PySide6.QtWidgets import QApplication, QMessageBox

    tab = make_tab()
    seen: list[list[str]] = []

    def click() -> None:
        box = next((w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()), None)
        if box is None:
            QTimer.singleShot(50, click)
            return
        seen.append([b.text().replace("&", "") for b in box.buttons()])
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()

    QTimer.singleShot(50, click)
    assert tab._ask_close() == answer
    assert sorted(seen[0]) == sorted(["Stop training", "Keep training in the background", "Cancel"])
    assert tab.confirm_close() is True  # nothing running: no question
