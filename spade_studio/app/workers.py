"""Background jobs for the Train tab: a function runs in a worker thread and its result comes
back on the GUI thread through a queued signal; for each kind of job the newest request wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class _Relay(QObject):
    done = Signal(str, int, object)  # job kind, token, result (an Exception on failure)


class Jobs(QObject):
    """Runs ``fn()`` in a daemon thread per :meth:`submit`; ``done(kind, result)`` is emitted on
    the GUI thread for the latest job of each kind only (a newer submit supersedes the older;
    ``result`` is the exception when ``fn`` raised)."""

    done = Signal(str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens: dict[str, int] = {}
        self._relay = _Relay(self)
        self._relay.done.connect(self._arrived, Qt.ConnectionType.QueuedConnection)

    def submit(self, kind: str, fn: Callable[[], Any]) -> int:
        """Start ``fn`` in a worker thread; returns the request's token."""
        token = self.cancel(kind)
        relay = self._relay

        def target() -> None:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - handed to the receiver
                result = exc
            try:
                relay.done.emit(kind, token, result)
            except RuntimeError:  # the receiver is gone
                pass

        threading.Thread(target=target, name=f"trainer-tab-{kind}", daemon=True).start()
        return token

    def cancel(self, kind: str) -> int:
        """Drop the pending result of ``kind`` (it will not be delivered); returns the new token."""
        self._tokens[kind] = self._tokens.get(kind, 0) + 1
        return self._tokens[kind]

    def token(self, kind: str) -> int:
        """The token of the newest request of ``kind`` (0 before the first)."""
        return self._tokens.get(kind, 0)

    def _arrived(self, kind: str, token: int, result: object) -> None:
        if token == self._tokens.get(kind):
            self.done.emit(kind, result)
