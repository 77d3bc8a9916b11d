"""Frozen entry point of the windowed ``spade-studio`` executable (PyInstaller script)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # DataLoader / make-landscapes workers re-enter the executable (spawn)
    from spade_studio.__main__ import main

    sys.exit(main())
