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

    ``step`` returns the seconds to idle before its next call (0: at once). ``on_failure``
    runs after each transient failure (e.g. to drop a broken producer); ``on_stuck`` is
    called with a description once failures reach the stuck threshold, and
    ``on_recovered`` once a step succeeds again after that.
    """

    name: str
    transient: tuple[type[BaseException], ...]
    backoff: Backoff = field(default_factory=Backoff)
    on_failure: Callable[[BaseException], None] | None = None
    on_stuck: Callable[[str], None] | None = None
    on_recovered: Callable[[], None] | None = None

    def run(self, step: Callable[[], float], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                idle = step()
            except self.transient as exc:
                self._failed(exc, stop)
                continue
            if self.backoff.stuck and self.on_recovered is not None:
                self.on_recovered()
            failures = self.backoff.succeeded()
            if failures >= self.backoff.stuck_after:
                log.warning("%s recovered after %d failed attempts", self.name, failures)
            if idle > 0:
                stop.wait(idle)

    def _failed(self, exc: BaseException, stop: threading.Event) -> None:
        wait = self.backoff.failed()
        what = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        if self.on_failure is not None:
            self.on_failure(exc)
        if self.backoff.failures == self.backoff.stuck_after:
            detail = f"{self.name} failed {self.backoff.failures} times in a row ({what})"
            log.error("%s is stuck; still retrying every %.0f s: %s", self.name, wait, detail)
            if self.on_stuck is not None:
                self.on_stuck(detail)
        elif self.backoff.stuck:
            log.warning("%s still failing (%d times): %s", self.name, self.backoff.failures, what)
        else:
            log.warning("%s failed, retrying in %.1f s: %s", self.name, wait, what)
        stop.wait(wait)
