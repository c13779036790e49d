"""Child-process helpers shared by the embedded servers (internal)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable

import psutil

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child receive ``sig`` when its parent dies.

    So a crashed or SIGKILLed supervisor never leaves a server running. Linux only
    (returns None elsewhere). The kernel clears the death signal when the child's
    credentials change; CPython applies ``user=``/``group=`` *before* ``preexec_fn``, so
    combining them keeps the signal armed. The signal fires when the *thread* that
    spawned the child exits, so start servers from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolve libc in the parent: dlopen after fork in a threaded parent can deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def _preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died between fork and prctl: the signal would never come.
        if os.getppid() != parent:
            os._exit(1)

    return _preexec


def running(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: a zombie has stopped (only its exit status is left)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_leftovers(procs: list[psutil.Process], timeout: float = 5.0) -> None:
    """SIGKILL processes that outlived their parent (e.g. backends of a killed postmaster).

    Waits until each has stopped, zombies included: an orphan's zombie is reaped by init,
    if ever (a container's first process may never do it), and holds nothing any more.
    """
    alive = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running():
                proc.kill()
                alive.append(proc)
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [proc for proc in alive if running(proc)]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_child(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send ``sig`` to our child, wait up to ``timeout`` s, then SIGKILL it and its tree."""
    if proc.poll() is not None:
        return
    # Snapshot first: once the parent is SIGKILLed its children are reparented and lost.
    descendants = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    kill_leftovers(descendants)


def stop_pid(pid: int, sig: int, timeout: float) -> None:
    """Like :func:`stop_child` for a process that is not our child (a stale server)."""
    try:
        proc = psutil.Process(pid)
        descendants = proc.children(recursive=True)
        proc.send_signal(sig)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            proc.kill()
            proc.wait(5)
    except psutil.NoSuchProcess:
        return
    kill_leftovers(descendants)


def log_tail(path: os.PathLike[str] | str, limit: int = 2000) -> str:
    """Return the last ``limit`` characters of a log file, for error messages."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError as exc:
        return f"(log unavailable: {exc})"
