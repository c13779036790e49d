"""One retry loop for every stream process: bounded back-off, and loud when stuck.

Faults are sorted: *transient* (the database or the broker is away: wait and try
again, with exponential back-off up to a bound) versus everything else, which the step
itself must turn into a refusal or a report, never into an endless silent loop. A step
that keeps failing is not retried in silence: after ``stuck_after`` consecutive
failures the loop says so (an error log naming what is stuck, and the ``on_stuck``
hook, which the processes wire to their health report and metrics), keeps trying at the
longest interval, and says so again when it recovers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.faults import describe
from ledger.health import Health

log = logging.getLogger("ledger.retry")

FIRST_WAIT = 0.1
LONGEST_WAIT = 10.0
STUCK_AFTER = 5


@dataclass
class Backoff:
    """Exponential back-off, and whether the failures have gone on long enough to be
    called stuck. Pure: the loop below does the waiting."""

    first: float = FIRST_WAIT
    longest: float = LONGEST_WAIT
    stuck_after: int = STUCK_AFTER
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next try."""
        self.failures += 1
        return float(min(self.first * 2 ** (self.failures - 1), self.longest))

    @property
    def stuck(self) -> bool:
        return self.failures >= self.stuck_after

    def succeeded(self) -> int:
        """Reset; how many failures there had been."""
        failures, self.failures = self.failures, 0
        return failures


@dataclass
class RetryLoop:
    """Runs ``step`` until ``stop`` is set, retrying transient failures with back-off.

    ``step`` returns the seconds to idle before its next call (0: at once). A
    ``transient`` failure is logged in a line; any other exception (``faults``: a fault
    of the ledger's own, or one input it cannot get past) with its traceback, but it is
    retried the same way: no step can end the process, and one that keeps failing is
    reported as stuck instead. ``on_failure`` runs after each failure (e.g. to drop a
    broken producer); ``health`` is told when the loop is stuck, and when it recovers.
    """

    name: str
    transient: tuple[type[BaseException], ...]
    health: Health | None = None
    backoff: Backoff = field(default_factory=Backoff)
    on_failure: Callable[[BaseException], None] | None = None
    faults: tuple[type[BaseException], ...] = (Exception,)

    def run(self, step: Callable[[], float], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                idle = step()
            except self.transient as exc:
                self._failed(exc, stop, expected=True)
                continue
            except self.faults as exc:
                self._failed(exc, stop, expected=False)
                continue
            failures = self.backoff.succeeded()
            if failures >= self.backoff.stuck_after:
                log.warning("%s recovered after %d failed attempts", self.name, failures)
                if self.health is not None:
                    self.health.recovered()
            if idle > 0:
                stop.wait(idle)

    def _failed(self, exc: BaseException, stop: threading.Event, *, expected: bool) -> None:
        wait = self.backoff.failed()
        # A transient failure's message is about the connection; any other's may quote
        # data, so it is told by kind and place only (ledger.faults).
        what = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}" if expected else ""
        if not expected:
            what = describe(exc)
            log.error("%s failed unexpectedly, retrying in %.1f s: %s", self.name, wait, what)
        if self.on_failure is not None:
            self.on_failure(exc)
        if self.backoff.failures == self.backoff.stuck_after:
            detail = f"failed {self.backoff.failures} times in a row ({what})"
            log.error("%s is stuck; still retrying every %.0f s: %s", self.name, wait, detail)
            if self.health is not None:
                self.health.stuck(detail)
        elif expected and self.backoff.stuck:
            log.warning("%s still failing (%d times): %s", self.name, self.backoff.failures, what)
        elif expected:
            log.warning("%s failed, retrying in %.1f s: %s", self.name, wait, what)
        stop.wait(wait)
