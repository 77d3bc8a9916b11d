"""TrainError: a training run cannot start or continue (the message says why)."""

from __future__ import annotations


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says why."""
