"""Issue 13, "Data and resources" (items 1-10): every bad input is refused before it costs
memory, with one documented error naming the file; no run folder has two trainers; only
regular files are read or replaced."""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spade_studio.cli import main
from spade_studio.imageio import atomic_write, write_image, write_label_map
from spade_studio.labels import LabelError, LabelSet
from spade_studio.model.checkpoint import load_model_file, save_model
from spade_studio.model.config import GeneratorConfig
from spade_studio.model.generator import SPADEGenerator
from spade_studio.model.official import CheckpointError, load_official
from tests.conftest import make_tiny_bundle

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys, timeout=120.0):
    """``main(argv)`` in a thread (a hang fails the test instead of blocking the suite)."""
    box: dict = {}

    def target():
        try:
            box["rc"] = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            box["rc"] = exc.code

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{argv} still running after {timeout} s (hang)"
    out, err = capsys.readouterr()
    return box.get("rc"), out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for leaked in ("ZeroDivisionError", "OverflowError", "TypeError", "invalid literal", "negative dimension",
                   "KeyError", "AttributeError", "Traceback"):
        assert leaked not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# -------------------------------------------------------------------------------------------
# official folders for the tests: a tiny generator's .pth (+ opt.txt)
# -------------------------------------------------------------------------------------------
TINY_OPT = {"dataset_mode": "custom", "label_nc": 5, "contain_dontcare_label": False, "no_instance": True,
            "ngf": 4, "crop_size": 64, "aspect_ratio": 1.0, "norm_G": "spectralspadebatch3x3",
            "num_upsampling_layers": "normal", "use_vae": False}


def official_folder(tmp_path: Path, opt_over: dict | None = None, opt_text: str | None = None,
                    mutate=None, name="ckpt") -> Path:
    d = tmp_path / name
    d.mkdir()
    cfg = GeneratorConfig(label_nc=5, ngf=4, crop_size=64, use_instance=False)
    from spade_studio.model.config import SPADENormConfig

    cfg = cfg.with_(spade=SPADENormConfig("batch", 3, 16))
    sd = SPADEGenerator(cfg).state_dict()
    if mutate:
        mutate(sd)
    torch.save(sd, d / "latest_net_G.pth")
    opts = dict(TINY_OPT)
    opts.update(opt_over or {})
    text = opt_text if opt_text is not None else "".join(f"{k}: {v}\n" for k, v in opts.items())
    if text is not False:
        (d / "opt.txt").write_text(text)
    return d


def test_tiny_official_folder_loads(tmp_path):
    ck = load_official(official_folder(tmp_path))
    assert ck.generator.ngf == 4 and ck.generator.label_nc == 5


# -------------------------------------------------------------------------------------------
# item 1: one trainer per run folder
# -------------------------------------------------------------------------------------------
def _train_config(tmp_path, out):
    from trainer.config import TrainConfig

    return TrainConfig(data=str(tmp_path / "no-data"), out=str(out), device="cpu")


def test_item1_second_trainer_on_same_out_is_refused_naming_the_owner(tmp_path):
    from trainer.errors import TrainError
    from trainer.lock import RunLock
    from trainer.loop import train

    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; sys.path.insert(0, sys.argv[2]); from trainer.lock import RunLock; "
         "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)", str(out), str(ROOT)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TrainError) as ei:
            train(_train_config(tmp_path, out))
        msg = str(ei.value)
        assert f"pid {holder.pid}" in msg and str(out) in msg and "in use" in msg
        # the refusal touched nothing of the owner's
        assert json.loads((out / "trainer.lock").read_text())["pid"] == holder.pid
    finally:
        holder.kill()  # a crash (SIGKILL) must not leave the lock stuck
        holder.wait()
    with RunLock(out):
        assert json.loads((out / "trainer.lock").read_text())["pid"] == os.getpid()
    assert not (out / "trainer.lock").exists()


def test_item1_lock_in_process_and_stale_lock_file(tmp_path):
    from trainer.errors import TrainError
    from trainer.lock import RunLock
    from trainer.loop import train

    out = tmp_path / "run"
    with RunLock(out):
        with pytest.raises(TrainError, match=f"pid {os.getpid()}"):
            RunLock(out).acquire()
        with pytest.raises(TrainError, match="in use"):
            train(_train_config(tmp_path, out))
    # a lock file left by a dead trainer (no lock held) is not in the way
    (out / "trainer.lock").write_text(json.dumps({"pid": 999999, "host": "x", "started": 0}))
    with pytest.raises(TrainError, match="no such data folder"):
        train(_train_config(tmp_path, out))
    assert not (out / "trainer.lock").exists()


# -------------------------------------------------------------------------------------------
# item 2: validate before allocating
# -------------------------------------------------------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("ngf,needles", [(400, ("opt.txt", "ngf 400", "1..256")),
                                         (200, ("latest_net_G.pth", "shape mismatch", "expected (3200"))])
def test_item2_opt_txt_big_ngf_is_refused_fast_without_building(tmp_path, monkeypatch, capsys, ngf, needles):
    import spade_studio.model.generator as gen

    folder = official_folder(tmp_path, {"ngf": ngf})
    built = []
    real_init = gen.SPADEGenerator.__init__

    def spy(self, cfg):
        built.append(torch.empty(0).device.type)
        real_init(self, cfg)

    monkeypatch.setattr(gen.SPADEGenerator, "__init__", spy)
    before = _peak_mb()
    t0 = time.perf_counter()
    rc, _, err = run_cli(["info", folder], capsys, timeout=60)
    took = time.perf_counter() - t0
    assert_one_line_error(rc, err, *needles)
    assert took < 20, took
    assert _peak_mb() - before < 1500
    assert all(d == "meta" for d in built), built  # shapes were computed without real weights


@pytest.mark.parametrize("where", ["opt.txt", "safetensors"])
def test_item2_ngf_100000_is_refused_by_its_limit(tmp_path, capsys, where):
    if where == "opt.txt":
        path = official_folder(tmp_path, {"ngf": 100000})
    else:
        path = _doctored_model(tmp_path, gen_over={"ngf": 100000})
    rc, _, err = run_cli(["info", path], capsys, timeout=60)
    assert_one_line_error(rc, err, "ngf 100000", "1..256", str(path.name))


# -------------------------------------------------------------------------------------------
# model files with doctored metadata / tensors
# -------------------------------------------------------------------------------------------
def _doctored_model(tmp_path: Path, gen_over=None, meta_over=None, label_set=None, drop=None, add=None,
                    reshape=None, nan=None, name="m.safetensors") -> Path:
    from safetensors.torch import save_file

    good = save_model(make_tiny_bundle(use_vae=False), tmp_path / "good.safetensors")
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    g = json.loads(meta["generator"])
    g.update(gen_over or {})
    meta["generator"] = json.dumps(g)
    if label_set is not None:
        meta["label_set"] = json.dumps(label_set)
    meta.update(meta_over or {})
    for k in drop or []:
        del tensors[k]
    tensors.update(add or {})
    for k, shape in (reshape or {}).items():
        tensors[k] = torch.zeros(shape)
    if nan:
        tensors[nan] = tensors[nan].clone()
        tensors[nan].view(-1)[0] = float("nan")
    path = tmp_path / name
    save_file(tensors, str(path), metadata=meta)
    return path


def test_good_doctored_model_is_fine(tmp_path, capsys):
    rc, out, err = run_cli(["info", _doctored_model(tmp_path)], capsys)
    assert rc == 0, err


# -------------------------------------------------------------------------------------------
# item 3: the memory a canvas needs is estimated before rendering
# -------------------------------------------------------------------------------------------
def test_item3_render_memory_estimate_and_refusal(tmp_path):
    from spade_studio.model.synthesize import CanvasTooLargeError, Synthesizer, estimate_render_bytes

    s = Synthesizer(ROOT / "resources" / "models" / "landscape.safetensors", device="cpu")
    need = estimate_render_bytes(s.config, 4096, 4096)
    assert 8e9 < need < 16e9  # measured: about 12 GB
    assert 2e9 < estimate_render_bytes(s.config, 2048, 2048) < 4.5e9
    s.memory_budget = 2 << 30
    with pytest.raises(CanvasTooLargeError) as ei:
        s.render(np.zeros((4096, 4096), np.uint8), seed=0, where="big.png")
    msg = str(ei.value)
    assert "big.png" in msg and "4096x4096" in msg and "GB" in msg and "largest canvas" in msg
    fits = msg.rsplit("about ", 1)[1].split("x")
    fw, fh = int(fits[0]), int(fits[1])
    assert 1024 <= fw <= 2048 and fw == fh
    assert estimate_render_bytes(s.config, fh, fw) <= s.memory_budget
    s.check_memory(fh, fw)  # the size it names does fit
    assert isinstance(ei.value, LabelError)  # the documented vocabulary


def test_item3_available_memory_and_cli_message(tmp_path, monkeypatch, capsys):
    import spade_studio.model.synthesize as syn

    assert syn.available_memory(torch.device("cpu")) > 0
    monkeypatch.setattr(syn, "available_memory", lambda device: 1 << 30)
    lab = tmp_path / "big.png"
    write_label_map(lab, np.zeros((3000, 3000), np.uint8))
    rc, _, err = run_cli(["render", lab, "-o", tmp_path / "o.png", "--model",
                          ROOT / "resources" / "models" / "landscape.safetensors", "--device", "cpu",
                          "--tile", "off"], capsys)
    assert_one_line_error(rc, err, "big.png", "3000x3000", "largest canvas", "tiles")
    assert not (tmp_path / "o.png").exists()


# -------------------------------------------------------------------------------------------
# item 4: only regular files are read; no wait can hang
# -------------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_item4_fifo_opt_txt_does_not_hang_info(tmp_path, capsys):
    folder = official_folder(tmp_path, opt_text=False)
    os.mkfifo(folder / "opt.txt")
    rc, _, err = run_cli(["info", folder], capsys, timeout=30)
    assert_one_line_error(rc, err, "opt.txt", "FIFO")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_item4_fifo_label_map_model_and_style_do_not_hang(tmp_path, capsys):
    fifo = tmp_path / "map.png"
    os.mkfifo(fifo)
    rc, _, err = run_cli(["render", fifo, "-o", tmp_path / "o.png", "--device", "cpu"], capsys, timeout=30)
    assert_one_line_error(rc, err, "map.png", "FIFO")
    model = tmp_path / "m.safetensors"
    os.mkfifo(model)
    rc, _, err = run_cli(["info", model], capsys, timeout=30)
    assert_one_line_error(rc, err, "m.safetensors", "FIFO")
    from spade_studio.imageio import ImageReadError, read_rgb

    with pytest.raises(ImageReadError, match="FIFO"):
        read_rgb(fifo)


# -------------------------------------------------------------------------------------------
# item 5: stale temp files are removed at the next start
# -------------------------------------------------------------------------------------------
def test_item5_stale_temp_files_removed_at_next_start(tmp_path):
    from trainer.errors import TrainError
    from trainer.loop import train

    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    big = out / "checkpoints" / ".ckpt_00001000.pt.k3j2h1.tmp"
    big.write_bytes(b"\0" * 1000)
    small = [out / f".config.json.{i}abc.tmp" for i in range(3)]
    for p in small:
        p.write_text("{}")
    keep = out / "checkpoints" / "notes.txt"
    keep.write_bytes(b"x")
    with pytest.raises(TrainError, match="no such data folder"):
        train(_train_config(tmp_path, out))
    assert not big.exists() and not any(p.exists() for p in small)
    assert keep.exists()


def test_item5_interrupted_atomic_write_leaves_no_temp(tmp_path, monkeypatch):
    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "f.bin", b"abc")
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------------
# item 6: NaN weights
# -------------------------------------------------------------------------------------------
def test_item6_nan_weights_are_refused(tmp_path, capsys):
    path = _doctored_model(tmp_path, nan="G.conv_img.weight")
    with pytest.raises(CheckpointError, match="NaN"):
        load_model_file(path)
    lab = tmp_path / "l.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    rc, _, err = run_cli(["render", lab, "-o", tmp_path / "o.png", "--model", path, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, "m.safetensors", "NaN", "conv_img.weight")
    assert not (tmp_path / "o.png").exists()


def test_item6_nan_in_official_pth_and_in_a_bundle(tmp_path):
    def poison(sd):
        sd["fc.weight"].view(-1)[3] = float("inf")

    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_official(official_folder(tmp_path, mutate=poison))
    from spade_studio.model.synthesize import Synthesizer

    b = make_tiny_bundle(use_vae=False)
    b.G_state_dict["fc.bias"][0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        Synthesizer(b, device="cpu")


# -------------------------------------------------------------------------------------------
# item 7: inconsistent model files, refused by info as by render
# -------------------------------------------------------------------------------------------
def _ls(n, name="t"):
    return {"name": name, "labels": [{"id": i, "name": f"c{i}", "color": [i, i, i]} for i in range(n)]}


def _two_component_colour():
    d = _ls(15)
    d["labels"][4]["color"] = [10, 20]
    return d


INCONSISTENT = {
    "empty label set": (dict(label_set={"name": "e", "labels": []}), "empty"),
    "3 labels for 15 classes": (dict(label_set=_ls(3)), "15 classes"),
    "colour with 2 components": (dict(label_set=_two_component_colour()), "colour"),
    "label id outside": (dict(label_set={**_ls(15), "labels": _ls(15)["labels"] + [
        {"id": 40, "name": "x", "color": [1, 2, 3]}]}), "40"),
    "missing tensor": (dict(drop=["G.conv_img.bias"]), "missing"),
    "extra tensor": (dict(add={"G.extra.weight": torch.zeros(3)}), "unexpected"),
    "wrong shape": (dict(reshape={"G.conv_img.weight": (3, 4, 1, 1)}), "shape"),
    "integer weights": (dict(add={"G.conv_img.bias": torch.zeros(3, dtype=torch.int64)}), "type"),
    "z_dim -5": (dict(gen_over={"z_dim": -5}), "z_dim -5"),
    "unknown norm": (dict(gen_over={"spade": {"param_free_norm": "group", "kernel_size": 3, "hidden": 128}}),
                     "group"),
    "list ngf": (dict(gen_over={"ngf": [4]}), "ngf"),
    "non-numeric format version": (dict(meta_over={"format_version": "one"}), "format version"),
    "aspect 0": (dict(gen_over={"aspect_ratio": 0}), "aspect_ratio"),
    "huge crop": (dict(gen_over={"crop_size": 10**30}), "crop_size"),
    "label_nc 1e400": (dict(meta_over={"generator": '{"label_nc": 1e400}'}), "label_nc"),
    "stray tensor": (dict(add={"X.w": torch.zeros(1)}), "outside"),
}


@pytest.mark.parametrize("case", list(INCONSISTENT))
def test_item7_inconsistent_model_files_are_refused_by_info_and_render(tmp_path, capsys, case):
    kw, needle = INCONSISTENT[case]
    path = _doctored_model(tmp_path, **kw)
    rc, _, err = run_cli(["info", path], capsys)
    assert_one_line_error(rc, err, str(path), needle)
    lab = tmp_path / "l.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    rc, _, err = run_cli(["render", lab, "-o", tmp_path / "o.png", "--model", path, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, str(path), needle)


def test_item7_label_set_colour_needs_three_components():
    with pytest.raises(LabelError, match="colour"):
        LabelSet.from_dict(_two_component_colour())


# -------------------------------------------------------------------------------------------
# item 8: one error vocabulary (the fuzz properties are in test_fuzz.py)
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("opt,needle", [
    ({"aspect_ratio": 0}, "aspect_ratio"),
    ({"label_nc": "1e400"}, "label_nc"),
    ({"crop_size": "9" * 400}, "crop_size"),
    ({"z_dim": -5, "use_vae": True}, "z_dim"),
    ({"norm_G": "spectralspadegroup3x3"}, "group"),
    ({"num_upsampling_layers": "lots"}, "num_upsampling_layers"),
    ({"label_nc": "many"}, "label_nc"),
    ({"semantic_nc": 1e400}, "semantic_nc"),
])
def test_item8_opt_txt_values_give_checkpoint_errors_naming_the_file(tmp_path, capsys, opt, needle):
    folder = official_folder(tmp_path, opt)
    rc, _, err = run_cli(["info", folder], capsys)
    assert_one_line_error(rc, err, "opt.txt", needle)


def test_item8_pth_shapes_without_opt_txt(tmp_path, capsys):
    def shrink(sd):  # a VAE fc and a head conv narrower than 16: ngf 0 in the shape inference
        sd["fc.weight"] = torch.zeros(64, 256)
        sd["head_0.conv_0.weight_orig"] = torch.zeros(8, 8, 3, 3)

    folder = official_folder(tmp_path, opt_text=False, mutate=shrink)
    rc, _, err = run_cli(["info", folder], capsys)
    assert_one_line_error(rc, err, "latest_net_G.pth")

    def odd_fc(sd):
        sd["fc.weight"] = torch.zeros(7, 256)  # a VAE fc whose rows are not 16 * ngf * cells

    folder = official_folder(tmp_path, opt_text=False, mutate=odd_fc, name="c2")
    rc, _, err = run_cli(["info", folder], capsys)
    assert_one_line_error(rc, err, "latest_net_G.pth")


# -------------------------------------------------------------------------------------------
# item 9: output paths
# -------------------------------------------------------------------------------------------
def _special_file(tmp_path: Path) -> tuple[Path, str]:
    """A character device if this process may make one, else a FIFO."""
    p = tmp_path / "dev"
    try:
        os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        return p, "character device"
    except (OSError, AttributeError):
        os.mkfifo(p)
        return p, "FIFO"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_item9_special_files_are_never_replaced(tmp_path, capsys):
    target, kind = _special_file(tmp_path)
    with pytest.raises(OSError, match=kind):
        atomic_write(target, b"data")
    assert not stat.S_ISREG(os.stat(target).st_mode)
    with pytest.raises(OSError, match="a folder, not a regular file"):
        atomic_write(tmp_path, b"x")
    lab = tmp_path / "l.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    tiny = save_model(make_tiny_bundle(use_vae=False), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", lab, "-o", target, "--model", tiny, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, str(target), kind)
    assert not stat.S_ISREG(os.stat(target).st_mode)
    rc, _, err = run_cli(["convert", official_folder(tmp_path), "-o", target], capsys)
    assert_one_line_error(rc, err, str(target), kind)
    assert not stat.S_ISREG(os.stat(target).st_mode)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is a Linux device")
def test_item9_dev_full_is_not_taken_for_a_folder(tmp_path, capsys):
    lab = tmp_path / "l.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    tiny = save_model(make_tiny_bundle(use_vae=False), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", lab, "-o", "/dev/full", "--model", tiny, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, "/dev/full", "character device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_item9_full_disk_names_the_path(tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "out" / "img.png"
    with pytest.raises(OSError) as ei:
        atomic_write(target, b"x" * 100)
    assert str(target) in str(ei.value) and ei.value.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    lab = tmp_path / "l.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    model = save_model(make_tiny_bundle(use_vae=False), tmp_path / "t.safetensors")
    monkeypatch.setattr(os, "fsync", full)
    rc, _, err = run_cli(["render", lab, "-o", target, "--model", model, "--device", "cpu"], capsys)
    line = assert_one_line_error(rc, err, str(target), "No space left")
    assert ".tmp" not in line


def test_item9_read_only_folder_names_the_target(tmp_path, monkeypatch):
    import tempfile

    def denied(prefix="", suffix="", dir=None):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, prefix + "x7f3a" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    target = tmp_path / "ro" / "img.png"
    with pytest.raises(PermissionError) as ei:
        atomic_write(target, b"x")
    msg = str(ei.value)
    assert str(target) in msg and ".tmp" not in msg and "cannot write in" in msg
    with pytest.raises(CheckpointError, match="t.safetensors") as ei:
        save_model(make_tiny_bundle(use_vae=False), tmp_path / "ro" / "t.safetensors")
    assert ".tmp" not in str(ei.value)


# -------------------------------------------------------------------------------------------
# item 10: check-data
# -------------------------------------------------------------------------------------------
def _paired(tmp_path: Path, n: int = 3) -> Path:
    root = tmp_path / "data"
    for i in range(n):
        write_image(root / "images" / f"p{i}.png", np.full((16, 16, 3), 100, np.uint8))
        write_label_map(root / "labels" / f"p{i}.png", np.full((16, 16), 1, np.uint8))
    return root


def test_item10_unreadable_labels_folder_is_a_permission_problem(tmp_path, monkeypatch, capsys):
    from trainer.datacheck import check_data

    root = _paired(tmp_path)
    labels = root / "labels"
    real = os.scandir

    def scandir(path="."):
        if Path(path) == labels:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = check_data(root, label_nc=3)
    kinds = [p.kind for p in report.problems]
    assert "unreadable_folder" in kinds
    assert "unmatched_image" not in kinds  # not "image has no label map" for every image
    assert report.fatal
    text = report.to_text()
    assert "permission" in text.lower() and "labels" in text
    rc, out, _ = run_cli(["check-data", root, "--label-nc", "3"], capsys)
    assert rc == 1 and "permission" in out.lower() and "image has no label map" not in out


@pytest.mark.parametrize("n", [0, -5, 100000])
def test_item10_label_nc_out_of_range_is_refused(tmp_path, capsys, n):
    from trainer.datacheck import check_data

    root = _paired(tmp_path)
    report = check_data(root, label_nc=n)
    assert report.fatal and f"label_nc {n}: the number of classes must be 1..4096" in report.to_text()
    assert report.checked == 0  # refused before any file is read
    rc, out, _ = run_cli(["check-data", root, "--label-nc", n], capsys)
    assert rc == 1 and f"label_nc {n}: the number of classes must be" in out


def test_item10_progress_for_large_folders(tmp_path):
    from trainer.cli import CheckProgress
    from trainer.datacheck import check_data

    calls = []
    check_data(_paired(tmp_path, 4), label_nc=3, on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    class Tty(io.StringIO):
        def isatty(self):
            return True

    pipe = io.StringIO()
    p = CheckProgress(pipe, every=1000)
    for i in range(1, 2501):
        p(i, 2500)
    assert pipe.getvalue().splitlines() == ["checking pairs: 1000/2500", "checking pairs: 2000/2500",
                                            "checking pairs: 2500/2500"]
    small = io.StringIO()
    for i in range(1, 11):
        CheckProgress(small, every=1000)(i, 10)
    assert small.getvalue() == ""  # small folders, not a terminal: silent
    tty = Tty()
    p = CheckProgress(tty, tty_every=50)
    for i in range(1, 101):
        p(i, 100)
    assert tty.getvalue() == "\rchecking pairs: 50/100\rchecking pairs: 100/100\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_item4_fifo_dataset_json_and_label_set_file_do_not_hang(tmp_path):
    from trainer.datacheck import check_data

    root = _paired(tmp_path)
    os.mkfifo(root / "dataset.json")
    box = {}
    t = threading.Thread(target=lambda: box.update(r=check_data(root, label_nc=3)), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert box["r"].fatal and "FIFO" in box["r"].to_text()
    fifo = tmp_path / "set.json"
    os.mkfifo(fifo)
    with pytest.raises(LabelError, match="FIFO"):
        LabelSet.from_file(fifo)


# -------------------------------------------------------------------------------------------
# the second red-team pass (findings F1-F5, F10, F11)
# -------------------------------------------------------------------------------------------
def test_render_refuses_to_write_onto_its_own_input(tmp_path, capsys):
    lab = tmp_path / "m.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    before = lab.read_bytes()
    tiny = save_model(make_tiny_bundle(use_vae=False), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", lab, "-o", lab, "--model", tiny, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, str(lab), "is the input")
    assert lab.read_bytes() == before  # the label map is intact
    rc, _, err = run_cli(["render", lab, "-o", tmp_path, "--model", tiny, "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, "is the input")  # -o the folder that holds m.png: the same file


@pytest.mark.parametrize("args, needle", [
    (["--variations", "0"], "--variations 0"), (["--variations", "1000000"], "--variations 1000000"),
    (["--seed", "1180591620717411303424"], "--seed"), (["--seed", "-1"], "--seed -1"),
])
def test_render_numbers_out_of_range_are_named(tmp_path, capsys, args, needle):
    lab = tmp_path / "m.png"
    write_label_map(lab, np.zeros((64, 64), np.uint8))
    tiny = save_model(make_tiny_bundle(use_vae=False), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", lab, "-o", tmp_path / "out", "--model", tiny, "--device", "cpu", *args], capsys)
    assert_one_line_error(rc, err, needle)


@pytest.mark.parametrize("args, needle", [
    (["--batch", "0"], "--batch 0"), (["--iters", "-1"], "--iters -1"), (["--threads", "0"], "--threads 0"),
    (["--ema", "2"], "--ema 2"), (["--lr", "nan"], "--lr nan"), (["--simplify-labels", "2"], "--simplify-labels 2"),
    (["--keep-last", "0"], "--keep-last 0"), (["--workers", "-3"], "--workers -3"),
])
def test_train_options_out_of_range_are_refused_before_anything_starts(tmp_path, args, needle):
    import argparse

    from trainer.config import add_arguments, from_args
    from trainer.loop import TrainError, train

    out = tmp_path / "run"
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = from_args(p.parse_args(["--data", str(tmp_path / "nothing-here"), "--out", str(out), *args]))
    with pytest.raises(TrainError, match=needle.replace("-", r"\-")):
        train(cfg)
    assert not out.exists()  # refused before any folder or lock was made


def test_train_cli_names_the_bad_option_in_one_line(tmp_path):
    import subprocess
    import sys as _sys

    r = subprocess.run([_sys.executable, "-m", "spade_studio.cli", "train", "--data", str(tmp_path), "--out",
                        str(tmp_path / "run"), "--batch", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("error: --batch 0: must be")
    assert "ZeroDivisionError" not in r.stderr and "Traceback" not in r.stderr


def test_official_booleans_and_odd_checkpoint_files_are_named(tmp_path):
    from spade_studio.model.config import ConfigError, generator_config_from_official
    from spade_studio.model.official import CheckpointError, read_state_dict

    with pytest.raises(ConfigError, match="use_vae 'maybe' is not true or false"):
        generator_config_from_official({"label_nc": 5, "use_vae": "maybe"})
    assert generator_config_from_official({"label_nc": 5, "use_vae": "True", "no_instance": "1"}).use_vae
    (tmp_path / "latest_net_G.pth").mkdir()
    with pytest.raises(CheckpointError, match="latest_net_G.pth: a folder"):
        read_state_dict(tmp_path / "latest_net_G.pth")
    fifo = tmp_path / "fifo.pth"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="fifo.pth: not a regular file"):
        read_state_dict(fifo)


def test_an_instance_map_of_another_size_names_the_label_map(tmp_path):
    from spade_studio.labels import LabelError
    from spade_studio.model.synthesize import Synthesizer

    s = Synthesizer(make_tiny_bundle(use_vae=False), device="cpu")
    with pytest.raises(LabelError, match=r"map\.png: its instance map is 32x32, the label map 64x64"):
        s.render(np.zeros((64, 64), np.int64), np.zeros((32, 32), np.int64), where="map.png")


def test_empty_and_unknown_files_say_so_plainly(tmp_path):
    from spade_studio.imageio import ImageReadError, read_label_map
    from spade_studio.model.official import CheckpointError, read_state_dict

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.png: empty file"):
        read_label_map(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match=r"text.png: not an image file") as e:
        read_label_map(tmp_path / "text.png")
    assert "BytesIO" not in str(e.value) and "UnidentifiedImageError" not in str(e.value)
    with pytest.raises(CheckpointError, match="empty.pth: empty file"):
        read_state_dict(tmp_path / "empty.pth")


def test_a_looping_opt_txt_link_is_refused_not_ignored(tmp_path):
    from spade_studio.model.official import CheckpointError, load_official

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "latest_net_G.pth").write_bytes(b"x")
    os.symlink(folder / "opt.txt", folder / "opt.txt")  # points at itself
    with pytest.raises(CheckpointError, match="opt.txt: a link that leads nowhere"):
        load_official(folder)


def test_label_nc_beside_a_label_set_is_reported_as_ignored(tmp_path):
    from trainer.config import TrainConfig
    from trainer.landscapes import make_landscapes
    from trainer.loop import train

    make_landscapes(tmp_path / "data", 4, size=64, seed=0)
    events = []
    cfg = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), size=64, ngf=4, ndf=8,
                      spade_hidden=8, batch=2, iters=1, label_nc=7, sample_every=0, save_every=0, threads=1)
    train(cfg, events.append)
    warned = [e["message"] for e in events if e["event"] == "warning"]
    assert any("--label-nc 7 ignored" in m and "landscape" in m for m in warned), warned


# -------------------------------------------------------------------------------------------
# third red-team pass (Q): findings Q1.. (each test failed before its fix)
# -------------------------------------------------------------------------------------------
def _refused_without_decoding(monkeypatch, path, w: int, h: int) -> str:
    """The ProjectError text of opening a foreign w x h .ora whose one layer is a 16384x16384 PNG
    header (pixel decoding fails the test: the refusal must come first)."""
    from PIL import ImageFile

    from spade_studio.labels import load_label_set
    from spade_studio.project import ProjectError, load_ora

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    ora = _foreign_ora(path, f'<image w="{w}" h="{h}"><stack><layer name="base" src="data/a.png"/>'
                       '</stack></image>', {"data/a.png": _png_header_only(16384, 16384, 6)})
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ProjectError) as e:
        load_ora(ora, load_label_set("landscape"))
    return str(e.value)


def _png_header_only(w: int, h: int, color_type: int = 0, bit_depth: int = 8) -> bytes:
    """A PNG whose header promises w x h pixels and whose data holds almost nothing (a few
    hundred bytes that decompress to gigabytes, as a decompression bomb does)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("w,h,ctype,needle", [(20000, 20000, 2, "20000x20000"),  # Q1: RGB, 1.2 GB: MemoryError
                                              (28000, 28000, 0, "784,000,000 pixels"),  # Q2: grey, 784 Mpx: 2.6 GB
                                              (30000, 10000, 6, "30000x10000")])
def test_q1_q2_image_bombs_are_refused_from_the_header_before_decoding(tmp_path, monkeypatch, w, h, ctype, needle):
    """A 1 MB PNG of 20000x20000 RGB pixels took 3.5 GB and ended in a MemoryError traceback;
    a 762 KB 28000x28000 grey one took 2.6 GB and printed a DecompressionBombWarning. The
    header's size is now checked before any pixel is decompressed."""
    import warnings

    from PIL import ImageFile

    from spade_studio.imageio import ImageReadError, read_label_map, read_rgb

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(w, h, ctype))
    ls = LabelSet.from_dict({"name": "t", "labels": [{"id": 0, "name": "a", "color": [0, 0, 0]}]})
    for read in (lambda: read_label_map(p, ls), lambda: read_rgb(p)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ImageReadError) as e:
                read()
        msg = str(e.value)
        assert "bomb.png" in msg and needle in msg and "too large" in msg, msg
        assert "pixels decoded" not in msg


def test_q1_cli_refuses_an_rgb_bomb_in_one_line(tmp_path, capsys):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(20000, 20000, 2))
    rc, _, err = run_cli(["render", p, "-o", tmp_path / "o.png", "--model",
                          save_model(make_tiny_bundle(), tmp_path / "m.safetensors")], capsys)
    assert_one_line_error(rc, err, "bomb.png", "too large")
    assert "MemoryError" not in err and not (tmp_path / "o.png").exists()


def test_q1_largest_allowed_images_still_read(tmp_path):
    from spade_studio.imageio import MAX_DECODED_BYTES, MAX_IMAGE_PIXELS, ImageReadError, check_image_pixels

    check_image_pixels(_FakeImage("L", 16384, 16384), tmp_path / "a.png")
    check_image_pixels(_FakeImage("RGB", 16384, MAX_DECODED_BYTES // 3 // 16384), tmp_path / "b.png")
    check_image_pixels(_FakeImage("I;16", 16384, 16384), tmp_path / "c.png")
    assert MAX_IMAGE_PIXELS == 16384 * 16384
    for mode, w, h in (("L", 16385, 16384), ("RGBA", 16384, 8193), ("L", 0, 10)):
        with pytest.raises(ImageReadError, match="d.png"):
            check_image_pixels(_FakeImage(mode, w, h), tmp_path / "d.png")


class _FakeImage:
    def __init__(self, mode, w, h):
        self.mode, self.size = mode, (w, h)


def test_q3_colour_label_maps_decode_in_bounded_memory():
    """colors_to_ids took ~49 bytes per pixel (int64 packing, a full-image np.unique): a
    colour label PNG of 16384x10900 sky (545 KB) needed about 9 GB. It decodes in strips now."""
    import tracemalloc

    from spade_studio.labels import load_label_set

    ls = load_label_set("landscape")
    rng = np.random.default_rng(0)
    ids = rng.choice(ls.ids, (3000, 3000)).astype(np.uint8)
    rgb = ls.colorize(ids)
    tracemalloc.start()
    try:
        got = ls.colors_to_ids(rgb, where="m.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(got, ids)
    assert peak < 16 * ids.size, f"{peak / ids.size:.1f} bytes per pixel"


def test_q3_strip_decoding_reports_colours_like_before():
    """Counts and first positions of unmapped colours are summed over strips."""
    from spade_studio.labels import LabelError, load_label_set

    ls = load_label_set("landscape")
    rgb = ls.colorize(np.zeros((2500, 1000), np.uint8))
    rgb[3, 5] = rgb[2400, 7] = rgb[1200, 999] = (9, 9, 9)  # three strips
    rgb[2499, 0] = (1, 2, 3)
    with pytest.raises(LabelError) as e:
        ls.colors_to_ids(rgb, where="m.png")
    msg = str(e.value)
    assert msg.startswith("m.png: 2 colour(s) cannot be mapped"), msg
    assert "colour (9, 9, 9) matches no label (3 px, first at x=5, y=3)" in msg, msg
    assert "colour (1, 2, 3) matches no label (1 px, first at x=0, y=2499)" in msg, msg


def _foreign_ora(path: Path, stack_xml: str, entries: dict[str, bytes]) -> Path:
    """A minimal OpenRaster file as another program writes it (no spade-studio/ folder)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"image/openraster", compress_type=zipfile.ZIP_STORED)
        z.writestr("stack.xml", stack_xml)
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def _rgba_png(w: int, h: int, color=(118, 178, 236, 255)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def test_q4_ora_layer_larger_than_the_canvas_is_refused_before_decoding(tmp_path, monkeypatch):
    """Q4 (project.py): a 1 MB foreign .ora whose 64x64 canvas holds a 16384x16384 layer PNG was
    decoded in full (3.3 GB peak RSS) and ended as "cannot convert the image to RGBA ()" (an
    empty MemoryError); 200 <layer>s naming the same PNG decode it 200 times."""
    msg = _refused_without_decoding(monkeypatch, tmp_path / "bomb.ora", 64, 64)
    assert "bomb.ora" in msg and "data/a.png" in msg and "16384x16384" in msg, msg
    assert "pixels decoded" not in msg, msg


def test_q5_ora_layer_that_is_not_an_image_names_no_python_object(tmp_path):
    """Q5 (project.py): a <layer src="stack.xml"> said "cannot identify image file <_io.BytesIO
    object at 0x...>" (the repr F12 removed from label maps)."""
    from spade_studio.labels import load_label_set
    from spade_studio.project import ProjectError, load_ora

    ora = _foreign_ora(tmp_path / "odd.ora", '<image w="8" h="8"><stack><layer name="base" src="stack.xml"/>'
                       '</stack></image>', {})
    with pytest.raises(ProjectError) as e:
        load_ora(ora, load_label_set("landscape"))
    msg = str(e.value)
    assert "odd.ora" in msg and "stack.xml" in msg, msg
    assert "BytesIO" not in msg and "UnidentifiedImageError" not in msg, msg


def test_q6_nan_in_project_styles_is_refused_when_opening_naming_the_ora(tmp_path, capsys):
    """Q6 (project.py): project.json styles holding NaN opened fine; exporting it then blamed
    the *output* file ("out.psd: styles are not plain JSON data")."""
    import zipfile

    from spade_studio.labels import load_label_set
    from spade_studio.project import ProjectError, load_ora, project_from_map, save_ora

    good = save_ora(tmp_path / "good.ora", project_from_map(np.zeros((8, 8), np.uint8), load_label_set("landscape")))
    bad = tmp_path / "nan.ora"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "spade-studio/project.json":
                meta = json.loads(data)
                meta["styles"] = {"global": {"kind": "seed", "seed": float("nan")}}
                data = json.dumps(meta).encode()
            zout.writestr(info, data)
    with pytest.raises(ProjectError) as e:
        load_ora(bad)
    assert "nan.ora" in str(e.value) and "project.json" in str(e.value), str(e.value)
    rc, _, err = run_cli(["export-layers", bad, "-o", tmp_path / "out.psd"], capsys)
    line = assert_one_line_error(rc, err, "nan.ora")
    assert "out.psd" not in line, line


def test_q8_an_output_name_that_is_not_utf8_is_written_and_printed(tmp_path, monkeypatch):
    """Q8: -o with a non-UTF-8 byte wrote the render, then failed printing its name
    ("'utf-8' codec can't encode character '\\udcff'", exit 1)."""
    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/o\xff.png")
    buf = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buf, encoding="utf-8", errors="strict"))
    rc = main(["render", str(m), "-o", out, "--model", str(save_model(make_tiny_bundle(), tmp_path / "t.safetensors"))])
    sys.stdout.flush()
    assert rc == 0
    assert os.path.isfile(os.fsencode(out))
    assert b"o\\udcff.png" in buf.getvalue()


@pytest.mark.parametrize("name", ["out.gif", "out.tiff"])
def test_q9_an_output_of_an_unwritten_image_type_is_refused_not_made_a_folder(tmp_path, capsys, name):
    """Q9: render -o out.gif made a folder out.gif/ holding map.png (exit 0)."""
    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    rc, _, err = run_cli(["render", m, "-o", tmp_path / name, "--model",
                          save_model(make_tiny_bundle(), tmp_path / "t.safetensors")], capsys)
    assert_one_line_error(rc, err, name)
    assert not (tmp_path / name).exists()


def test_q9_empty_output_is_refused(tmp_path, capsys, monkeypatch):
    """-o '' wrote MAP.png into the current folder."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    rc, _, err = run_cli(["render", m, "-o", "", "--model", save_model(make_tiny_bundle(), tmp_path / "t.safetensors")],
                         capsys)
    assert_one_line_error(rc, err, "-o")
    assert not list((tmp_path / "cwd").iterdir())


def test_q10_two_maps_of_one_name_do_not_overwrite_each_other(tmp_path, capsys):
    """Q10: render a/map.png b/map.png -o out wrote out/map.png twice: the first render was lost."""
    for d, v in (("a", 0), ("b", 3)):
        (tmp_path / d).mkdir()
        write_label_map(tmp_path / d / "map.png", np.full((64, 64), v, np.uint8))
    rc, _, err = run_cli(["render", tmp_path / "a" / "map.png", tmp_path / "b" / "map.png", "-o", tmp_path / "out",
                          "--model", save_model(make_tiny_bundle(), tmp_path / "t.safetensors")], capsys)
    assert_one_line_error(rc, err, "map.png", "distinct names")
    assert not (tmp_path / "out" / "map.png").exists()


def test_q11_info_json_is_strict_json_when_the_metadata_holds_nan(tmp_path, capsys):
    """Q11: info --json printed NaN (not JSON) for a model whose provenance holds NaN."""
    b = make_tiny_bundle()
    b.provenance = {"source": "test", "final_loss": float("nan")}
    p = save_model(b, tmp_path / "m.safetensors")
    rc, out, err = run_cli(["info", p, "--json"], capsys)
    assert rc == 0, err

    def refuse(const):
        raise AssertionError(f"{const} in info --json")

    info = json.loads(out, parse_constant=refuse)
    assert info["provenance"]["final_loss"] == "nan"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_q12_label_set_paths_say_what_is_wrong_and_names_stay_in_the_palettes(tmp_path, capsys):
    """Q12: --label-set FIFO.json / a missing .json said "unknown label set"; a label-set name
    (e.g. from a PNG's text chunk) could walk out of the palettes folder ('../x')."""
    from PIL import Image, PngImagePlugin

    from spade_studio.imageio import LABELSET_CHUNK
    from spade_studio.labels import load_label_set

    os.mkfifo(tmp_path / "set.json")
    with pytest.raises(LabelError, match="FIFO"):
        load_label_set(tmp_path / "set.json")
    with pytest.raises(LabelError, match="No such file"):
        load_label_set(tmp_path / "missing.json")
    (tmp_path / "evil.json").write_text(load_label_set("landscape").to_json())
    from spade_studio.paths import palettes_dir

    rel = os.path.relpath(tmp_path / "evil", palettes_dir())  # "../../../tmp/.../evil": evil.json was read
    with pytest.raises(LabelError, match="unknown label set"):
        load_label_set("..")
    # a chunk naming a path is not followed by export-layers
    info = PngImagePlugin.PngInfo()
    info.add_text(LABELSET_CHUNK, rel)
    Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(tmp_path / "m.png", pnginfo=info)
    rc, out, err = run_cli(["export-layers", tmp_path / "m.png", "-o", tmp_path / "m.ora"], capsys)
    assert rc == 0, err
    assert "not built in" in err and "landscape" in out


def test_q13_export_layers_onto_its_input_names_no_render(tmp_path, capsys):
    from spade_studio.labels import load_label_set
    from spade_studio.project import project_from_map, save_ora

    p = save_ora(tmp_path / "p.ora", project_from_map(np.zeros((8, 8), np.uint8), load_label_set("landscape")))
    before = p.read_bytes()
    rc, _, err = run_cli(["export-layers", p, "-o", p], capsys)
    line = assert_one_line_error(rc, err, "p.ora", "destroy")
    assert "render" not in line and p.read_bytes() == before


def _paired_folder(root: Path, n: int = 2) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        Image.new("RGB", (64, 64), (i, 0, 0)).save(root / "images" / f"s{i}.jpg")
        write_label_map(root / "labels" / f"s{i}.png", np.zeros((64, 64), np.uint8))
    return root


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_q14_check_data_does_not_hang_on_a_fifo_label(tmp_path, capsys):
    """Q14: check-data hung for ever when the first label PNG (by name) was a FIFO: the
    label-set lookup in its text chunk opened it with a blocking open()."""
    root = _paired_folder(tmp_path / "d")
    os.mkfifo(root / "labels" / "a0.png")
    from PIL import Image

    Image.new("RGB", (64, 64)).save(root / "images" / "a0.jpg")
    rc, out, err = run_cli(["check-data", root, "--json"], capsys, timeout=60)
    assert rc == 1 and "Traceback" not in err
    assert json.loads(out)["ok"] is False  # no label set named: the report is complete


def test_q15_check_data_names_a_header_bomb_label_instead_of_a_raw_pillow_error(tmp_path, capsys):
    """Q15: a 65536x65536 header as the first label made check-data end with
    "error: DecompressionBombError: Image size ..." (no file, an internal type)."""
    root = _paired_folder(tmp_path / "d")
    (root / "labels" / "s0.png").write_bytes(_png_header_only(65536, 65536))
    rc, out, err = run_cli(["check-data", root, "--label-set", "landscape"], capsys)
    assert "DecompressionBomb" not in out + err and "Traceback" not in err
    rc, out, err = run_cli(["check-data", root], capsys)
    assert "DecompressionBomb" not in out + err and "Traceback" not in err
    assert "s0.png" in out and "too large" in out, out


def test_q16_training_photos_are_refused_from_the_header(tmp_path, monkeypatch, capsys):
    """Q16: a 20000x20000 RGB photo (a 1 MB bomb) in a dataset was decoded in full by check-data
    and train (3.3 GB; train ended "error: MemoryError: MemoryError")."""
    from PIL import ImageFile

    from spade_studio.imageio import ImageReadError
    from trainer.datasets import _open_photo

    root = _paired_folder(tmp_path / "d")
    (root / "images" / "s0.jpg").unlink()
    (root / "images" / "s0.png").write_bytes(_png_header_only(20000, 20000, 2))

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageReadError, match=r"s0.png: a 20000x20000 image .* too large"):
        _open_photo(root / "images" / "s0.png")
    monkeypatch.undo()
    rc, out, err = run_cli(["check-data", root, "--label-set", "landscape"], capsys)
    assert "images/s0.png" in out and "too large" in out, out


def test_q17_available_memory_respects_the_process_address_space_limit(monkeypatch):
    """Q17: under `ulimit -v` (or a container's memory limit) the render estimate compared with
    the machine's MemAvailable (16 GB here), so an 8192x8192 map under a 4 GB limit passed the
    check and died in the allocator at 3.1 GB ("[enforce fail at alloc_cpu.cpp:127] ...")."""
    from spade_studio.model import synthesize

    with open("/proc/self/status") as f:
        vm = next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmSize:"))
    limit = vm + (1 << 30)
    monkeypatch.setattr(resource, "getrlimit", lambda what: (limit, limit) if what == resource.RLIMIT_AS
                        else (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert synthesize.available_memory(torch.device("cpu")) <= (1 << 30) + (64 << 20)


def test_q18_an_allocator_failure_is_one_line_that_names_the_map(tmp_path, capsys, monkeypatch):
    """Q18: a render that runs out of memory printed torch's raw allocator text ("[enforce fail
    at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory ...") without
    the map's name."""
    from spade_studio.model import synthesize

    def oom(self, *a, **k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 268435456 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(synthesize.Synthesizer, "render", oom)
    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    rc, _, err = run_cli(["render", m, "-o", tmp_path / "o.png", "--model",
                          save_model(make_tiny_bundle(), tmp_path / "t.safetensors")], capsys)
    line = assert_one_line_error(rc, err, "m.png", "out of memory")
    assert "enforce fail" not in line and "alloc_cpu" not in line, line


def test_q18_export_layers_out_of_memory_names_the_source(tmp_path, capsys, monkeypatch):
    """An 8192x8192 map exported to .psd needs about 125 bytes/px in psd-tools; under a 4 GB limit it
    ended "error: MemoryError: Unable to allocate 256. MiB ..." without the file's name."""
    from spade_studio import project

    def oom(*a, **k):
        raise MemoryError("Unable to allocate 256. MiB for an array with shape (8192, 8192, 1)")

    monkeypatch.setattr(project, "encode_psd", oom)
    m = tmp_path / "big.png"
    write_label_map(m, np.zeros((16, 16), np.uint8))
    rc, _, err = run_cli(["export-layers", m, "-o", tmp_path / "o.psd", "--label-set", "landscape"], capsys)
    line = assert_one_line_error(rc, err, "big.png", "out of memory")
    assert "MemoryError" not in line and not (tmp_path / "o.psd").exists()


def test_q4_a_foreign_canvas_too_large_to_decode_is_refused_from_stack_xml(tmp_path, monkeypatch):
    """Q4: a 1 MB foreign .ora with one 16384x16384 layer on a 16384x16384 canvas took 3.3 GB
    and ended "cannot convert the image to RGBA ()"."""
    msg = _refused_without_decoding(monkeypatch, tmp_path / "big.ora", 16384, 16384)
    assert "big.ora" in msg and "16384x16384" in msg and "pixels decoded" not in msg, msg


def test_q7_damaged_and_encrypted_ora_entries_name_no_python_types(tmp_path):
    """Q7: "damaged entry (BadZipFile: Bad CRC-32 ...)" and "File <ZipInfo filename='mimetype'
    filemode=... > is encrypted, password required"."""
    import struct

    from spade_studio.labels import load_label_set
    from spade_studio.project import ProjectError, load_ora, project_from_map, save_ora

    good = save_ora(tmp_path / "g.ora", project_from_map(np.zeros((8, 8), np.uint8), load_label_set("landscape")))
    data = bytearray(good.read_bytes())
    enc = bytearray(data)
    p = enc.find(b"PK\x01\x02")
    while p >= 0:
        enc[p + 8] |= 1  # the encrypted flag of every central record
        p = enc.find(b"PK\x01\x02", p + 4)
    (tmp_path / "enc.ora").write_bytes(bytes(enc))
    bad = bytearray(data)  # corrupt the CRC of project.json in its local and central records
    for sig, off in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        q = bad.find(sig)
        while q >= 0:
            name_len = struct.unpack("<H", bad[q + (26 if sig == b"PK\x03\x04" else 28): q + (28 if sig == b"PK\x03\x04" else 30)])[0]
            start = q + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(bad[start:start + name_len]) == b"spade-studio/project.json":
                bad[q + off] ^= 0xFF
            q = bad.find(sig, q + 4)
    (tmp_path / "crc.ora").write_bytes(bytes(bad))
    for name, needle in (("enc.ora", "encrypted"), ("crc.ora", "damaged")):
        with pytest.raises(ProjectError) as e:
            load_ora(tmp_path / name)
        msg = str(e.value)
        assert name in msg and needle in msg, msg
        assert "ZipInfo" not in msg and "BadZipFile" not in msg, msg


# -------------------------------------------------------------------------------------------
# red-team minor findings F1-F6
# -------------------------------------------------------------------------------------------
def test_f1_a_tile_larger_than_the_canvas_says_so_and_hints_are_not_doubled(tmp_path, capsys):
    """F1: --tile 99999 on a 64x64 map said "must be a multiple of 32"; --tile 10 hinted
    "e.g. 32 or 32"."""
    from spade_studio.model import tiling
    from spade_studio.model.synthesize import Synthesizer

    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    model = save_model(make_tiny_bundle(), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", m, "-o", tmp_path / "o.png", "--model", model, "--tile", "99999"], capsys)
    line = assert_one_line_error(rc, err, "m.png", "larger than the 64x64 canvas")
    assert "multiple of" not in line, line
    assert not (tmp_path / "o.png").exists()
    s = Synthesizer(make_tiny_bundle(), device="cpu")
    for tile, hint in ((10, "e.g. 32"), (-5, "e.g. 32"), (50, "e.g. 32 or 64")):
        with pytest.raises(tiling.TileError) as ei:
            tiling.plan_tiles(s, 640, 640, tile, False, where="m.png")
        msg = str(ei.value)
        assert "multiple of 32" in msg and msg.endswith(hint), msg
        assert "32 or 32" not in msg, msg


def test_f2_style_for_naming_one_label_twice_is_refused(tmp_path, capsys):
    """F2: --style-for sky=... --style-for 0=... (0 is sky) was accepted; the last one won."""
    m = tmp_path / "m.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    model = save_model(make_tiny_bundle(), tmp_path / "t.safetensors")
    rc, _, err = run_cli(["render", m, "-o", tmp_path / "o.png", "--model", model,
                          "--style-for", "sky=seed:1", "--style-for", "0=seed:2"], capsys)
    assert_one_line_error(rc, err, "'sky'", "0=seed:2", "once")
    assert not (tmp_path / "o.png").exists()


def test_f3_psd_export_checks_its_memory_before_building_anything(tmp_path, monkeypatch):
    """F3: export_psd used about 125-200 bytes per pixel (4096x4096: 2.1 GB) and checked nothing:
    8192x8192 would need ~8 GB. The estimate is checked against the budget first."""
    import spade_studio.project as pj
    from spade_studio.labels import load_label_set

    p = pj.project_from_map(np.zeros((64, 64), np.uint8), load_label_set("landscape"))
    p.render = np.zeros((64, 64, 3), np.uint8)
    need = pj.psd_bytes(p)
    # a safe bound: at least the measured ~160 B/px (1 layer + render) and the fixed part
    assert need >= 160 * 64 * 64 + (32 << 20)
    built = []
    import psd_tools

    monkeypatch.setattr(psd_tools.PSDImage, "new", classmethod(lambda *a, **k: built.append(a) or 1 / 0))
    with pytest.raises(pj.ProjectError) as ei:
        pj.export_psd(tmp_path / "big.psd", p, memory_budget=need - 1)
    msg = str(ei.value)
    assert "big.psd" in msg and ".ora" in msg and "memory" in msg and "\n" not in msg, msg
    assert not built and not (tmp_path / "big.psd").exists()
    monkeypatch.undo()
    out = pj.export_psd(tmp_path / "ok.psd", p, memory_budget=need)
    assert out.read_bytes()[:4] == b"8BPS"
    # the default budget is the memory this process may use (ulimit -v / cgroup / MemAvailable)
    monkeypatch.setattr("spade_studio.sysmemory.system_memory_available", lambda: need - 1)
    with pytest.raises(pj.ProjectError, match="ora"):
        pj.export_psd(tmp_path / "big.psd", p)


def test_f4_an_instance_map_of_another_size_names_the_instance_file(tmp_path, capsys):
    """F4: render MAP --instance INST (another size) said "MAP: its instance map is ...": the
    file to fix is INST."""
    from PIL import Image

    m, inst = tmp_path / "m.png", tmp_path / "inst_small.png"
    write_label_map(m, np.zeros((64, 64), np.uint8))
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(inst)
    rc, _, err = run_cli(["render", m, "--instance", inst, "-o", tmp_path / "o.png", "--model",
                          save_model(make_tiny_bundle(), tmp_path / "t.safetensors")], capsys)
    line = assert_one_line_error(rc, err, "inst_small.png", "48x32", "64x64")
    assert line.startswith(f"error: {inst}"), line
    assert not (tmp_path / "o.png").exists()


def test_f5_convert_refuses_an_output_that_is_not_a_model_file_or_folder(tmp_path, capsys):
    """F5: convert ... -o m.onnx silently wrote m.safetensors."""
    src = official_folder(tmp_path)
    for name in ("m.onnx", "m.pth"):
        rc, _, err = run_cli(["convert", src, "-o", tmp_path / name], capsys)
        assert_one_line_error(rc, err, name, ".safetensors")
    assert not list(tmp_path.glob("m.*"))
    rc, out, err = run_cli(["convert", src, "-o", tmp_path / "m.safetensors"], capsys)
    assert rc == 0 and (tmp_path / "m.safetensors").is_file(), err
    (tmp_path / "models.v2").mkdir()  # an existing folder, whatever its name
    rc, out, err = run_cli(["convert", src, "-o", tmp_path / "models.v2"], capsys)
    assert rc == 0 and (tmp_path / "models.v2" / f"{src.stem}.safetensors").is_file(), err


def test_f6_check_data_on_a_file_says_it_is_a_file(tmp_path, capsys):
    """F6: check-data FILE said "FILE: no such folder"."""
    f = tmp_path / "labels.png"
    write_label_map(f, np.zeros((8, 8), np.uint8))
    rc, out, err = run_cli(["check-data", f], capsys)
    assert rc != 0 and "Traceback" not in err
    text = out + err
    assert f"{f}: a file, not a folder" in text and "no such folder" not in text, text
    rc, out, err = run_cli(["check-data", tmp_path / "missing"], capsys)
    assert rc != 0 and "missing: no such folder" in out + err, out + err
