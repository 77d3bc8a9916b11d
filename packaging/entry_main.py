"""Frozen entry point of the single Linux executable (PyInstaller script).

On Linux the folder holds one program, ``spade-studio``, and ``spade-studio-cli`` is a symlink
to it (one copy of the bootloader and the Python archive, 35 MB less): the name it was started
as picks the editor or the command-line tools.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # DataLoader / make-landscapes workers re-enter the executable (spawn)
    if os.path.basename(sys.argv[0]).startswith("spade-studio-cli"):
        from spade_studio.cli import main
    else:
        from spade_studio.__main__ import main

    sys.exit(main())
