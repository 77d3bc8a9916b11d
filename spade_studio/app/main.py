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


def smoke_test(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .settings import Settings

    app = QApplication.instance() or QApplication(["spade-studio"])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SPADE_STUDIO_CONFIG_DIR"] = tmp
        win = MainWindow(Settings(), model=args.model, device=args.device or "cpu", autosave_dir=Path(tmp) / "as")
        win.show()
        ok_model = False
        t0 = time.time()
        while time.time() - t0 < 120:
            app.processEvents()
            if win.model_info is not None:
                ok_model = True
                break
            time.sleep(0.02)
        if not ok_model:
            print("smoke test: the model did not load", file=sys.stderr)
            return 1
        h, w = win.document.label_map.shape
        win.document.line(w / 4, h / 2, 3 * w / 4, h / 2, 10, win.document.label_set.ids[-1])
        ok = win.wait_for_render(120)
        img = getattr(win, "last_image", None)
        win.document.undo_stack.setClean()
        win.close()
        if not ok or img is None:
            print("smoke test: no render arrived", file=sys.stderr)
            return 1
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
