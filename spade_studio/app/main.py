"""Start-up: arguments, the QApplication, the theme, the main window; ``--smoke-test`` for packaging checks."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="spade-studio", description="SPADE Studio: paint label maps, get images.")
    p.add_argument("file", nargs="?", help="a label map to open")
    p.add_argument("--model", help="model file or official checkpoint folder (default: the bundled model)")
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.add_argument("--smoke-test", action="store_true",
                   help="open the window offscreen, load the default model, paint, render once, exit 0")
    return p.parse_args(argv)


def process_age() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere): the smoke test's start-up clock,
    which includes the interpreter's (or the frozen bootloader's) own start."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def smoke_test(args: argparse.Namespace) -> int:
    """Offscreen: the window with the real theme, painted once; the bundled (or --model) model loaded;
    a stroke painted; one render. Prints start-up times (seconds since the process started) and exits 0,
    or 1 with the reason. Settings and autosaves go to a temporary folder."""
    t_import = time.perf_counter()
    age0 = process_age()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .settings import Settings
    from .theme import apply_theme

    def since_start() -> float:
        return (age0 if age0 is not None else 0.0) + time.perf_counter() - t_import

    # never wait for a person: a message box (a model that failed to load...) is a failure, and a
    # watchdog ends a hung test
    import threading

    from PySide6.QtWidgets import QMessageBox

    problems: list[str] = []

    def _box(_parent, title, text, *a, **k):
        problems.append(f"{title}: {text}")
        print(f"smoke test: message box '{title}': {text}", file=sys.stderr)
        return QMessageBox.StandardButton.Ok

    QMessageBox.warning = QMessageBox.critical = QMessageBox.information = QMessageBox.question = _box
    watchdog = threading.Timer(float(os.environ.get("SPADE_STUDIO_SMOKE_TIMEOUT", "300")),
                               lambda: (print("smoke test: timed out", file=sys.stderr), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()

    app = QApplication.instance() or QApplication(["spade-studio"])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SPADE_STUDIO_CONFIG_DIR"] = tmp
        settings = Settings()
        apply_theme(app, settings.theme)
        win = MainWindow(settings, model=args.model, device=args.device or "cpu", autosave_dir=Path(tmp) / "as")
        win.show()
        app.processEvents()
        shot = win.grab()  # paints every widget once
        if shot.isNull() or shot.width() < 100:
            print("smoke test: the window did not paint", file=sys.stderr)
            return 1
        t_window = since_start()
        ok_model = False
        t0 = time.time()
        while time.time() - t0 < 120:
            app.processEvents()
            if win.model_info is not None:
                ok_model = True
                break
            if problems:
                break
            time.sleep(0.02)
        if not ok_model:
            print("smoke test: the model did not load", file=sys.stderr)
            return 1
        t_model = since_start()
        h, w = win.document.label_map.shape
        win.document.line(w / 4, h / 2, 3 * w / 4, h / 2, 10, win.document.label_set.ids[-1])
        ok = win.wait_for_render(120)
        img = getattr(win, "last_image", None)
        t_render = since_start()
        win.document.undo_stack.setClean()
        win.close()
        watchdog.cancel()
        if problems:
            return 1
        if not ok or img is None:
            print("smoke test: no render arrived", file=sys.stderr)
            return 1
        clock = "since process start" if age0 is not None else "since start-up code"
        print(f"smoke test: window painted {t_window:.2f} s, model loaded {t_model:.2f} s, "
              f"first render {t_render:.2f} s ({clock})")
        print(f"smoke test: ok ({win.model_info.description}; rendered {img.shape[1]}x{img.shape[0]})")
    return 0


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.smoke_test:
        return smoke_test(args)
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SPADE Studio")
    app.setOrganizationName("SPADE Studio")
    from .main_window import MainWindow
    from .settings import Settings
    from .theme import apply_theme

    settings = Settings.load()
    apply_theme(app, settings.theme)
    win = MainWindow(settings, model=args.model, device=args.device)
    win.show()
    if args.file:
        win.open_path(args.file, ask=False)
    else:
        win.offer_recovery()
    return app.exec()
