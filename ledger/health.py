"""How a long-running process is doing: running or stuck, its backlog, its last
progress. Pure: the process updates it (its retry loop says when it is stuck), and
``ledger.heartbeat`` writes it where the pipeline report reads it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Health:
    """How one process is doing; the process updates it, the heartbeat writes it."""

    kind: str  # ingest, publish, project, seal, api
    stuck_on: str | None = None
    backlog: int | None = None  # work it knows is waiting (e.g. ingest: Kafka lag)
    progress_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progressed(self, backlog: int | None = None) -> None:
        with self._lock:
            self.progress_at = time.time()
            if backlog is not None:
                self.backlog = backlog

    def stuck(self, what: str) -> None:
        with self._lock:
            self.stuck_on = what

    def recovered(self) -> None:
        with self._lock:
            self.stuck_on = None
            self.progress_at = time.time()

    def snapshot(self) -> tuple[str, str | None, int | None, datetime]:
        with self._lock:
            state = "stuck" if self.stuck_on else "running"
            when = datetime.fromtimestamp(self.progress_at, UTC)
            return state, self.stuck_on, self.backlog, when
