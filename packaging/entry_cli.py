"""Frozen entry point of the console ``spade-studio-cli`` executable (PyInstaller script)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from spade_studio.cli import main

    sys.exit(main())
