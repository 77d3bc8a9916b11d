"""Packaging rules that can be checked without a build: the frozen trainer child, resources and user
folders in a frozen layout, the bundle's exclude rules, the spec, the .deb metadata, the icons."""

from __future__ import annotations

import importlib.util
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"


def _load(name: str):
    # packaging/ is not a Python package (its name would shadow PyPI's "packaging"): load by path
    spec = importlib.util.spec_from_file_location(f"_spade_packaging_{name}", PKG / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(PKG))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(PKG))
    return mod


@pytest.fixture(scope="module")
def rules():
    return _load("bundle_rules")


@pytest.fixture(scope="module")
def build():
    return _load("build")


# --- the Train tab's child process in a frozen build ------------------------------------------
def _fake_bundle(tmp_path: Path, with_cli: bool, windows: bool = False) -> Path:
    ext = ".exe" if windows else ""
    (tmp_path / f"spade-studio{ext}").write_bytes(b"")
    if with_cli:
        (tmp_path / f"spade-studio-cli{ext}").write_bytes(b"")
    return tmp_path / f"spade-studio{ext}"


def test_frozen_child_is_the_bundled_cli(monkeypatch, tmp_path):
    pytest.importorskip("PySide6")
    from spade_studio.app.trainer_process import trainer_command

    gui = _fake_bundle(tmp_path, with_cli=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    prog, argv = trainer_command(["train", "--data", "d"])
    assert Path(prog) == tmp_path / "spade-studio-cli"
    assert argv == ["train", "--data", "d"]  # no "-m", no "--cli": the CLI program itself


def test_frozen_child_on_windows_is_the_console_exe(monkeypatch, tmp_path):
    pytest.importorskip("PySide6")
    from spade_studio.app import trainer_process

    gui = _fake_bundle(tmp_path, with_cli=True, windows=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    assert trainer_process.frozen_cli_executable(windows=True) == tmp_path / "spade-studio-cli.exe"
    assert trainer_process.frozen_cli_executable(windows=False) is None  # no Linux-named CLI beside it


def test_frozen_child_falls_back_to_the_app_with_cli_flag(monkeypatch, tmp_path):
    pytest.importorskip("PySide6")
    from spade_studio.app.trainer_process import trainer_command

    gui = _fake_bundle(tmp_path, with_cli=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    prog, argv = trainer_command(["train"])
    assert prog == str(gui) and argv == ["--cli", "train"]


def test_gui_entry_runs_the_cli_with_cli_flag(capsys):
    from spade_studio.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--cli", "--version"])
    assert e.value.code == 0
    assert "spade-studio" in capsys.readouterr().out


# --- resources and user folders in a frozen layout ---------------------------------------------
def test_frozen_resources_come_from_the_bundle(monkeypatch, tmp_path):
    from spade_studio import paths

    bundle = tmp_path / "opt" / "spade-studio" / "_internal"
    (bundle / "resources" / "palettes").mkdir(parents=True)
    monkeypatch.delenv("SPADE_STUDIO_RESOURCES", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.resources_dir() == bundle / "resources"


def test_user_folders_are_outside_the_install_folder(monkeypatch, tmp_path):
    from spade_studio import paths

    install = tmp_path / "opt" / "spade-studio"
    (install / "_internal").mkdir(parents=True)
    home = tmp_path / "home"
    for var in ("SPADE_STUDIO_CONFIG_DIR", "SPADE_STUDIO_DATA_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(install / "_internal"), raising=False)
    monkeypatch.setattr(sys, "executable", str(install / "spade-studio"))
    monkeypatch.chdir(install)  # started from the install folder: still nothing goes there
    for d in (paths.user_config_dir(), paths.user_data_dir()):
        d = Path(os.path.abspath(d))
        assert install not in d.parents and d != install, d
        assert "spade-studio" in str(d)


# --- what the bundle leaves out ----------------------------------------------------------------
@pytest.mark.parametrize("dest", [
    "torch/include/ATen/ATen.h", "torch/bin/test_api", "torch/bin/protoc", "torch/test/test_jit.py",
    "torch/lib/libtorchbind_test.so", "torch/lib/libjitbackend_test.so", "torch/share/cmake/Torch/TorchConfig.cmake",
    "PySide6/Qt/qml/QtQuick/qmldir", "PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt/lib/libQt6Pdf.so.6",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "PySide6/Qt/translations/qt_de.qm",
    "PySide6/Qt/lib/libQt6EglFsKmsSupport.so.6",  # needs the dropped EglFS integration
    "torch\\include\\c10\\core\\Device.h",  # Windows separators
    "torch/_inductor/codegen/cpp.py", "torch/nn/modules/conv.py", "torch/__init__.py",  # torch's sources
])
def test_dropped(rules, dest):
    assert rules.dropped(dest)


@pytest.mark.parametrize("dest", [
    "torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "torch/lib/libgomp.so.1", "torch/lib/libtorch_python.so",
    "PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/lib/libicudata.so.73",
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so", "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "torch/bin/torch_shm_manager",  # import torch fails without it
    "resources/models/landscape.safetensors", "resources/palettes/landscape.json", "resources/styles/day.jpg",
    "qdarkstyle/dark/darkstyle.qss", "qdarkstyle/dark/rc/arrow_down.png", "PIL/_imaging.cpython-311-x86_64-linux-gnu.so",
    "python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "include/python3.11/pyconfig.h",
    # the torch sources torch reads at run time
    "torch/_inductor/config.py", "torch/_dynamo/config.py", "torch/_functorch/config.py", "torch/fx/experimental/_config.py",
    "torch/functional.py", "torch/nn/functional.py", "torch/nn/modules/rnn.py",
])
def test_kept(rules, dest):
    assert not rules.dropped(dest)


def test_filter_toc(rules):
    toc = [("torch/bin/test_api", "/x", "BINARY"), ("torch/lib/libc10.so", "/y", "BINARY")]
    assert rules.filter_toc(toc) == [("torch/lib/libc10.so", "/y", "BINARY")]


def test_excluded_modules_are_not_ones_the_app_imports(rules):
    ex = set(rules.EXCLUDED_MODULES)
    # cv2 among them: OpenCV is gone, and a stray import must fail here and in the frozen smoke tests
    assert {"scipy", "pytest", "PySide6.QtQml", "PySide6.QtNetwork", "PyQt5", "tkinter", "cv2"} <= ex
    used = {"torch", "numpy", "PIL", "safetensors", "platformdirs", "qdarkstyle", "qtpy", "packaging",
            "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "unittest", "sympy", "multiprocessing"}
    assert not (ex & used)
    # and nothing in the source tree imports an excluded module
    import re

    pat = re.compile(r"^\s*(?:from|import)\s+([\w.]+)", re.M)
    for folder in ("spade_studio", "trainer"):
        for f in (ROOT / folder).rglob("*.py"):
            for mod in pat.findall(f.read_text(encoding="utf-8")):
                assert not any(mod == e or mod.startswith(e + ".") for e in ex), (f, mod)
    for folder in ("bench", "tests", "packaging"):  # OpenCV is not even a test or benchmark dependency
        for f in (ROOT / folder).rglob("*.py"):
            assert not any(m.split(".")[0] == "cv2" for m in pat.findall(f.read_text(encoding="utf-8"))), f


def test_spec_builds_two_programs_without_upx(rules):
    spec = (PKG / "spade_studio.spec").read_text()
    assert spec.count("upx=False") >= 2 and "upx=True" not in spec
    assert 'name="spade-studio", console=False' in spec
    assert 'name="spade-studio-cli", console=True' in spec  # Windows / macOS
    assert spec.count("Analysis(") == 1  # one analysis, two programs
    assert "bundle_rules.EXCLUDED_MODULES" in spec and "filter_toc" in spec
    assert (PKG / "entry_gui.py").exists() and (PKG / "entry_cli.py").exists()
    # Linux: one executable, spade-studio-cli a symlink to it
    assert 'SINGLE = sys.platform.startswith("linux")' in spec and 'link.symlink_to("spade-studio")' in spec
    for sub in ("palettes", "models", "styles", "samples"):
        assert f'"{sub}"' in spec and (ROOT / "resources" / sub).is_dir()


# --- Linux package metadata ------------------------------------------------------------------
def test_desktop_entry(build):
    text = build.desktop_entry()
    lines = dict(ln.split("=", 1) for ln in text.splitlines()[1:])
    assert text.startswith("[Desktop Entry]\n")
    assert lines["Exec"].split()[0] == "spade-studio" and lines["Icon"] == "spade-studio"
    assert lines["Type"] == "Application" and lines["Terminal"] == "false"
    assert lines["Categories"].endswith(";") and "Graphics" in lines["Categories"]


def test_appstream_metainfo(build):
    root = ET.fromstring(build.appstream_metainfo("1.2.3"))
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("launchable") == f"{build.DESKTOP_ID}.desktop"
    assert root.find("releases/release").get("version") == "1.2.3"
    assert {b.text for b in root.findall("provides/binary")} == {"spade-studio", "spade-studio-cli"}


def test_deb_control(build):
    text = build.deb_control("0.1.0", "amd64", 123456, {"libfontconfig1", "libgomp1"}, {"libxcb-cursor0"})
    fields = {}
    for ln in text.splitlines():
        if not ln.startswith(" "):
            k, v = ln.split(": ", 1)
            fields[k] = v
    assert fields["Package"] == "spade-studio" and fields["Architecture"] == "amd64"
    assert fields["Installed-Size"] == "123456"
    assert fields["Depends"].startswith("libc6 (>= ") and "libfontconfig1" in fields["Depends"]
    assert fields["Recommends"] == "libxcb-cursor0"
    assert "python" not in fields["Depends"]
    assert text.endswith("\n") and all(ln.startswith(" ") for ln in text.split("Description: ")[1].splitlines()[1:])


def test_icons_at_the_usual_sizes(tmp_path):
    icons = _load("make_icons")
    icons.write_all(tmp_path)
    from PIL import Image

    for n in icons.HICOLOR_SIZES:
        with Image.open(tmp_path / "hicolor" / f"{n}x{n}" / "apps" / "spade-studio.png") as im:
            assert im.size == (n, n) and im.mode == "RGBA"
    with Image.open(tmp_path / "spade-studio.ico") as im:
        assert (256, 256) in im.info["sizes"]
    assert (tmp_path / "spade-studio.icns").read_bytes()[:4] == b"icns"


def test_inno_setup_script_names_the_folder_and_uninstaller():
    iss = (PKG / "windows" / "spade-studio.iss").read_text()
    assert "spade-studio.exe" in iss and "spade-studio-cli.exe" in iss
    assert "{group}" in iss and "Uninstallable=yes" in iss
    assert "recursesubdirs" in iss


@pytest.mark.parametrize("argv0, program", [("/opt/spade-studio/spade-studio-cli", "cli"),
                                            ("/usr/bin/spade-studio-cli", "cli"),
                                            ("/opt/spade-studio/spade-studio", "gui")])
def test_the_single_linux_executable_picks_the_program_by_its_name(monkeypatch, argv0, program):
    import spade_studio.__main__
    import spade_studio.cli

    ran = []
    monkeypatch.setattr(spade_studio.cli, "main", lambda: ran.append("cli") or 0)
    monkeypatch.setattr(spade_studio.__main__, "main", lambda: ran.append("gui") or 0)
    monkeypatch.setattr(sys, "argv", [argv0, "--version"])
    path = PKG / "entry_main.py"
    with pytest.raises(SystemExit) as e:  # exec, not runpy: runpy would set argv[0] to the script
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), {"__name__": "__main__"})
    assert e.value.code == 0 and ran == [program]


def test_unreferenced_libraries_are_the_ones_no_root_reaches(rules):
    needed = {"exe": ["libpython.so"], "PySide6/QtGui.so": ["libQt6Gui.so.6"], "libQt6Gui.so.6": ["libglib.so"],
              "libglib.so": ["libpcre.so"], "libcairo.so": ["libpixman.so"], "libpango.so": ["libcairo.so"],
              "libpython.so": [], "libpcre.so": [], "libpixman.so": []}
    libs = ["libQt6Gui.so.6", "libglib.so", "libpcre.so", "libcairo.so", "libpango.so", "libpixman.so"]
    got = rules.unreferenced(libs, ["exe", "PySide6/QtGui.so", "libpython.so"], lambda f: needed[f])
    assert got == ["libcairo.so", "libpango.so", "libpixman.so"]  # the GTK theme's left-overs chain
    assert rules.unreferenced(libs, ["libpango.so"], lambda f: needed[f]) == ["libQt6Gui.so.6", "libglib.so", "libpcre.so"]


def test_strip_leaves_the_executables_and_the_wheels_vendored_libraries(build, tmp_path):
    internal = tmp_path / "_internal"
    files = ["torch/lib/libtorch_cpu.so", "libpython3.11.so.1.0", "numpy.libs/libscipy_openblas64_-x.so",
             "PIL/_imaging.cpython-311-x86_64-linux-gnu.so", "notes.so.txt"]
    for rel in files:
        (internal / rel).parent.mkdir(parents=True, exist_ok=True)
        (internal / rel).write_bytes(b"text" if rel.endswith(".txt") else b"\x7fELF....")
    (tmp_path / "spade-studio").write_bytes(b"\x7fELF....")
    got = {str(p.relative_to(internal)) for p in build.strip_candidates(tmp_path)}
    assert got == {"torch/lib/libtorch_cpu.so", "libpython3.11.so.1.0", "PIL/_imaging.cpython-311-x86_64-linux-gnu.so"}
