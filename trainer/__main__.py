"""``python -m trainer`` is ``spade-studio-cli train``."""

import sys

from trainer.cli import main

sys.exit(main())
