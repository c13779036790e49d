"""Folders for the real servers that tests start."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server_dir(prefix: str) -> Iterator[Path]:
    """A folder for a server's data outside pytest's temporary root.

    When another pytest session starts, pytest makes /tmp/pytest-of-<user> private again
    (mode 0700), and PostgreSQL, which runs as an unprivileged user, loses its data
    directory mid-run (seen: "PANIC: could not open file .../pg_control").
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
