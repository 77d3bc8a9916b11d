"""Undo commands: each holds one :class:`~spade_studio.labelmap.Delta` (a stroke, fill, line,
rectangle or clear), never a copy of the whole map -- or any payload with ``nbytes()`` that the
owner's ``apply`` understands (the document's paint steps name their layer; its layer
operations hold what they remove).

``redo`` writes the delta's new values, ``undo`` its old values; both go through the
``apply(delta, undo)`` callable the owner hands in (the document: it writes the map and
announces the changed rectangle). This module knows nothing of the document.

The history is capped by memory, not only by count: ``QUndoStack.setUndoLimit`` counts
commands and can only be set on an empty stack, so :func:`trim_history` rebuilds the stack
without its oldest commands when their deltas add up to more than the byte cap (see
``Document.undo_byte_limit``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from spade_studio.labelmap import Delta

ApplyDelta = Callable[[Delta, bool], None]  # (delta, undo): write its old (undo) or new values


class DeltaCommand(QUndoCommand):
    """One painting step. ``applied=True`` means the map already holds the new values (a
    live stroke), so the first ``redo`` (run by ``QUndoStack.push``) leaves the map alone."""

    def __init__(self, apply: ApplyDelta, delta: Delta, text: str, applied: bool = False):
        super().__init__(text)
        self.apply = apply
        self.delta = delta
        self._skip_redo = applied

    def nbytes(self) -> int:
        return self.delta.nbytes()

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.apply(self.delta, False)

    def undo(self) -> None:
        self.apply(self.delta, True)


def history_bytes(stack: QUndoStack) -> int:
    total = 0
    for i in range(stack.count()):
        cmd = stack.command(i)
        if isinstance(cmd, DeltaCommand):
            total += cmd.nbytes()
    return total


def trim_history(stack: QUndoStack, byte_limit: int) -> int:
    """Drop the oldest commands of ``stack`` while their deltas exceed ``byte_limit`` (the
    newest command always stays). Call it right after a push (no redo tail). Returns the
    number of commands dropped.

    The stack is rebuilt with the kept deltas; its signals are blocked meanwhile so the
    undo/redo actions and the dirty flag do not flicker. If the saved (clean) state was
    among the dropped commands, the stack can no longer become clean."""
    count = stack.count()
    if count <= 1 or stack.index() != count:
        return 0
    sizes = []
    for i in range(count):
        cmd = stack.command(i)
        sizes.append(cmd.nbytes() if isinstance(cmd, DeltaCommand) else 0)
    total = sum(sizes)
    if total <= byte_limit:
        return 0
    drop = 0
    while drop < count - 1 and total > byte_limit:
        total -= sizes[drop]
        drop += 1
    kept = []
    for i in range(drop, count):
        cmd = stack.command(i)
        if not isinstance(cmd, DeltaCommand):  # only our commands are on a document's stack
            return 0
        kept.append((cmd.apply, cmd.delta, cmd.text()))
    clean_index = stack.cleanIndex()
    blocked = stack.blockSignals(True)
    try:
        stack.clear()  # deletes the old commands; the map is untouched
        new_clean = clean_index - drop
        for i, (apply, delta, text) in enumerate(kept):
            if new_clean == i:
                stack.setClean()
            stack.push(DeltaCommand(apply, delta, text, applied=True))
        if new_clean == len(kept):
            stack.setClean()
        elif new_clean < 0 or clean_index < 0:
            stack.resetClean()
    finally:
        stack.blockSignals(blocked)
    stack.indexChanged.emit(stack.index())
    return drop
