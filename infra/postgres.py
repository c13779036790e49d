"""Embedded PostgreSQL server run as a direct child process of the caller."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import psycopg

from infra import _pgsetup
from infra._pgsetup import POSTGRES_BIN_PATH
from infra._process import die_with_parent, log_tail, stop_child
from infra.ports import free_port

# Unix socket paths are limited to 107 bytes on Linux; longer ones make postgres fail.
_MAX_SOCKET_PATH = 100


class EmbeddedPostgres:
    """A PostgreSQL server on ``data_dir``, owned by this object (no atexit, no daemon).

    The cluster is created by initdb on first use and kept between runs. Server output
    goes to ``data_dir.parent / "postgres.log"`` (see :attr:`log_path`). The server gets
    SIGINT (fast shutdown) if the process that started it dies.
    """

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Describe the server; nothing starts until :meth:`start`. ``port=0``: pick one."""
        self._data_dir = Path(data_dir).resolve()
        self._host = host
        self._requested_port = port
        self._port: int | None = port or None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """File the server's stdout/stderr (and initdb's) are appended to."""
        return self._data_dir.parent / "postgres.log"

    @property
    def dsn(self) -> str:
        """Connection URI of the (last) started server; user ``postgres``, no password."""
        if self._port is None:
            raise RuntimeError("EmbeddedPostgres has not been started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"postgresql://postgres@{host}:{self._port}/postgres"

    @property
    def pid(self) -> int | None:
        """Pid of the running postmaster, or None when stopped."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """How the postmaster ended if it stopped on its own (negative: the signal that
        killed it); None while it runs or after :meth:`stop`. Asking reaps it."""
        return None if self._proc is None else self._proc.poll()

    def start(self, timeout: float = 60.0) -> str:
        """Start the server (initdb on first use) and return its DSN once a query works.

        What an earlier server left on the same data directory is cleared first (see
        :func:`_pgsetup.stop_earlier_server`), so a server that was killed starts again.
        A restart keeps the port of the first start. Idempotent while running.
        """
        if self.pid is not None:
            return self.dsn
        deadline = time.monotonic() + timeout
        run_as = _pgsetup.prepare_data_dir(self._data_dir)
        _pgsetup.initdb_if_needed(self._data_dir, run_as, self.log_path, timeout)
        _pgsetup.stop_earlier_server(self._data_dir, timeout=10.0)
        # A picked port can be taken before postgres binds it: pick again then.
        attempts = 3 if self._requested_port == 0 else 1
        for attempt in range(attempts):
            if self._port is None or attempt > 0:
                self._port = free_port(self._host)
            self._spawn(run_as, self._port)
            if self._wait_ready(deadline):
                self._requested_port = self._port  # clients know this port now
                return self.dsn
        raise RuntimeError(f"postgres exited during startup:\n{log_tail(self.log_path)}")

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT), then SIGKILL after ``timeout`` s. Idempotent."""
        if self._proc is not None:
            stop_child(self._proc, signal.SIGINT, timeout)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _spawn(self, run_as: _pgsetup.RunAs, port: int) -> None:
        sock_dir = str(self._data_dir)
        if len(f"{sock_dir}/.s.PGSQL.{port}") > _MAX_SOCKET_PATH:
            sock_dir = ""  # too long for a unix socket: TCP only
        cmd = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self._data_dir),
            "-h",
            self._host,
            "-p",
            str(port),
            "-k",
            sock_dir,
            "-c",
            f"listen_addresses={self._host}",
            "-c",
            "max_connections=200",
        ]
        if self._log is None:
            # Kept open while the server runs; closed by stop().
            self._log = open(self.log_path, "ab")
        self._log.write(f"--- infra: starting postgres on {self._host}:{port}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self._data_dir,
            # Fast shutdown: smart shutdown (SIGTERM) would wait for other clients forever.
            preexec_fn=die_with_parent(signal.SIGINT),
            process_group=0,  # a terminal Ctrl-C must not reach it: its owner stops it last
            **_pgsetup.credentials(run_as),
        )

    def _wait_ready(self, deadline: float) -> bool:
        """Wait until our server answers; False if it exited (e.g. port taken)."""
        assert self._proc is not None
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as conn:
                    row = conn.execute("SELECT current_setting('data_directory')").fetchone()
                # Another server may own the port while ours fails to bind it.
                if row is not None and Path(row[0]) == self._data_dir:
                    return True
            except psycopg.OperationalError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"postgres not ready in time:\n{log_tail(self.log_path)}")
            time.sleep(0.05)
