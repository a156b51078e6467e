"""Group commit: many callers' commands, one database transaction, acknowledged when durable.

Durability, not computation, sets the ceiling (one fsync or PostgreSQL round trip per commit), so a
single writer thread drains whatever commands are waiting (up to `max_batch`), submits them as one
batch through `submit` (one transaction), and only then completes each caller's future. A command
is never acknowledged before its batch has committed; if the batch fails as a whole (the database
went away), every caller in it gets the exception and nothing of the batch was stored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from cets.service.clock import Clock, to_us
from cets.service.ports import Command, CommandResult

Submit = Callable[[Sequence[Command], int], list[CommandResult]]
_STOP = object()


class GroupCommitter:
    def __init__(self, submit: Submit, clock: Clock, *, max_batch: int = 1000) -> None:
        assert max_batch >= 1
        self._submit = submit
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cets-group-commit", daemon=True)
        self._thread.start()
        self.batches = 0  # how many transactions were committed (observability, tests)

    def submit(self, command: Command) -> Future[CommandResult]:
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: Future[CommandResult] = Future()
        self._queue.put((command, future))
        return future

    def execute(self, command: Command, timeout: float | None = 30.0) -> CommandResult:
        """Submit and wait until the command's batch is durable."""
        return self.submit(command).result(timeout)

    def close(self) -> None:
        """Finish what was submitted, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            items: list[tuple[Command, Future[CommandResult]]] = []
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    items.append(item)  # type: ignore[arg-type]
                if stopping or len(items) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if items:
                self._commit(items)

    def _commit(self, items: list[tuple[Command, Future[CommandResult]]]) -> None:
        try:
            results = self._submit([command for command, _ in items], to_us(self._clock.now()))
        except Exception as exc:  # the whole batch failed: tell every caller
            for _, future in items:
                future.set_exception(exc)
            return
        self.batches += 1
        for (_, future), result in zip(items, results, strict=True):
            future.set_result(result)
