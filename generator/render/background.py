"""One piece of a render computed in a forked child process while the parent builds the rest.

A zoo's render is pure Python on one core, and the machine has two. A forked
child starts with the parent's memory as it is (records, axes, label grids):
nothing is sent to it, and only its result comes back, pickled through a pipe.

Whatever goes wrong in the child (an exception, a kill, a result that cannot be
pickled), the parent computes the same piece itself: a bug then raises where it
can be read, and the output never depends on whether the child was used.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


def _child(function: Callable[[], object], sender: Connection) -> None:
    # Ctrl-C is the parent's to handle: it stops this child when it unwinds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sender.send(("ok", function()))
    except Exception:  # the parent recomputes, and raises the error itself
        sender.send(("failed", None))
    finally:
        sender.close()


class Background(Generic[T]):
    """``function()`` in a forked child when ``fork`` (else at ``result``); use as a context manager.

    Fork before any thread has started (a child inherits locks a thread held, without the thread).
    """

    def __init__(self, function: Callable[[], T], fork: bool) -> None:
        self.function = function
        self.process: multiprocessing.process.BaseProcess | None = None
        self.receiver: Connection | None = None
        if fork and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self.receiver, sender = context.Pipe(duplex=False)
            self.process = context.Process(target=_child, args=(function, sender), daemon=True)
            self.process.start()
            sender.close()  # the child's end: the parent's copy must go, or recv() never sees the child's EOF

    def result(self) -> T:
        if self.receiver is not None:
            try:
                status, value = self.receiver.recv()
            except (EOFError, OSError):  # the child died before it answered
                status, value = "failed", None
            finally:
                self.close()
            if status == "ok":
                return value
        return self.function()

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.close()
            self.receiver = None
        if self.process is not None:
            if self.process.is_alive():
                self.process.terminate()
            self.process.join()
            self.process = None

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
