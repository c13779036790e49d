"""How often the supervisor restarts a part: a few times within a sliding window.

A part that fails now and then (a lost connection, a server killed by an operator) is
restarted for as long as the supervisor lives; a part that fails again and again within
a short time is broken, and restarting it for ever would only hide that. Pure: the
caller passes the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RestartWindow:
    """At most ``limit`` restarts within any ``seconds``, each after a growing pause."""

    limit: int = 5
    seconds: float = 60.0
    _exits: deque[float] = field(default_factory=deque, init=False, repr=False)

    def allow(self, now: float) -> bool:
        """Whether a part that stopped at ``now`` may be restarted; if so, counts it.

        False when ``limit`` restarts already fall within the ``seconds`` before ``now``:
        the part then stopped ``limit + 1`` times within that window.
        """
        while self._exits and now - self._exits[0] >= self.seconds:
            self._exits.popleft()
        if len(self._exits) >= self.limit:
            return False
        self._exits.append(now)
        return True

    def pause(self) -> float:
        """Seconds to wait before the restart just allowed: 0.5 for the first in the
        window, doubling with each further one, at most 5."""
        return min(0.25 * 2 ** len(self._exits), 5.0)
