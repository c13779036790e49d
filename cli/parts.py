"""The parts ``ledger run`` keeps running: child processes and the embedded servers.

Each part says whether it stopped on its own and how, and starts or stops on demand;
the supervisor decides when (``cli/supervisor.py``). Every child is armed to die with
the supervisor (PR_SET_PDEATHSIG), so even a SIGKILLed supervisor leaves no orphans.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cli.restarts import RestartWindow
from infra._process import die_with_parent, log_tail, stop_child
from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres
from ledger.settings import Settings

log = logging.getLogger("ledger.supervisor")

LOG_LINES = 10


class GaveUp(Exception):
    """A part failed and was not brought back; the message says which part and why."""


class Part(Protocol):
    """Something the supervisor keeps running."""

    name: str
    log_path: Path
    window: RestartWindow

    def exit_status(self) -> int | None:
        """How it ended if it stopped on its own (negative: the signal); None if running."""

    def restart(self, cause: str) -> None:
        """Start it again after it stopped (``cause`` says how); raise GaveUp if it cannot."""

    def stop(self) -> None:
        """Stop it on purpose (idempotent): it has not stopped on its own then."""


def describe_exit(status: int) -> str:
    """``exit code 1`` or ``signal 9``, from a Popen return code."""
    return f"signal {-status}" if status < 0 else f"exit code {status}"


def last_lines(path: Path) -> str:
    """The end of a part's log, to say why it failed."""
    lines = log_tail(path, limit=4000).splitlines()[-LOG_LINES:]
    return f"last lines of {path}:\n" + "\n".join(lines)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].rstrip(':') if lines else 'no message'}"


@dataclass(frozen=True)
class ChildSpec:
    """A child process: its ``ledger`` subcommand and what it holds of the broker."""

    command: str
    # It holds state the broker forgets on a restart (group positions, producer ids):
    # restarted with the broker.
    kafka: bool = False
    serves_metrics: bool = False
    # Its PostgreSQL role (``ledger.database_roles``), when the roles are on.
    role: str = ""


class Child:
    """One ``ledger COMMAND`` process, its output appended to ``logs/COMMAND.log``."""

    def __init__(self, spec: ChildSpec, settings: Settings, logs: Path) -> None:
        self.spec = spec
        self.name = spec.command
        self.settings = settings
        self.env = {**os.environ, **settings.to_env()}
        self.log_path = logs / f"{spec.command}.log"
        self.window = RestartWindow()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", self.spec.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,  # Ctrl-C reaches the supervisor only; it stops us in order
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        log.info("started %s (pid %d), log %s", self.name, self.proc.pid, self.log_path)

    def exit_status(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def restart(self, cause: str) -> None:
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                log.info("stopping %s", self.name)
            stop_child(self.proc, signal.SIGTERM, timeout=15)
            self.proc = None


@dataclass
class Server:
    """An embedded server the supervisor started, and what must follow its restart:
    ``dependents`` are stopped before it starts again and started after ``then``."""

    name: str
    server: EmbeddedPostgres | EmbeddedBroker
    log_path: Path
    dependents: list[Child] = field(default_factory=list)
    then: Callable[[], None] = lambda: None
    window: RestartWindow = field(default_factory=RestartWindow)

    def exit_status(self) -> int | None:
        return self.server.returncode

    def restart(self, cause: str) -> None:
        for child in self.dependents:
            child.stop()
        try:
            self.server.start()
            self.then()
        except Exception as exc:  # whatever kept it from coming back ends the run, named
            raise GaveUp(
                f"{self.name} stopped ({cause}) and did not come back: {_first_line(exc)}\n"
                f"{last_lines(self.log_path)}"
            ) from exc
        log.info("%s is back", self.name)
        for child in self.dependents:
            log.info("restarting %s: the %s it used is new", child.name, self.name)
            child.start()

    def stop(self) -> None:
        if self.server.pid is not None:
            log.info("stopping %s", self.name)
        self.server.stop()
