"""``python -m trainer ARGS`` is ``spade-studio-cli train ARGS``."""

import sys

from spade_studio.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
