"""What the machine is doing besides the benchmark (Linux /proc; nothing elsewhere).

A benchmark's figures are only as good as the quiet of the machine it runs on: a few
forgotten processes polling in the background each take a percent or two of a core,
and on two cores that is several percent off every rate. The benches look for them
before they start, and say which they found.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Busier than this, over the whole machine, and the figures are not worth comparing
# (eight idle, forgotten ingest workers came to 5% of two cores).
QUIET = 0.03


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy, over all cores (Linux /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _process_seconds() -> dict[int, tuple[str, float]]:
    """(command line, CPU seconds so far) of every process that can be read."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = command.strip() or stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def busy_others(seconds: float = 1.0) -> tuple[float, list[str]]:
    """Share of all cores busy over ``seconds`` while this process sleeps, and the
    processes that used over 1% of a core meanwhile, busiest first."""
    before, busy_before = _process_seconds(), busy_seconds()
    time.sleep(seconds)
    after, busy_after = _process_seconds(), busy_seconds()
    share = (busy_after - busy_before) / (seconds * (os.cpu_count() or 1))
    used = [
        (cpu - before[pid][1], f"pid {pid} {name[:70]}")
        for pid, (name, cpu) in after.items()
        if pid in before and pid != os.getpid()
    ]
    return share, [text for cpu, text in sorted(used, reverse=True) if cpu / seconds > 0.01]


def report_quiet(seconds: float = 1.0) -> float:
    """Say how busy the machine is before the benchmark starts, and which processes
    keep it busy when it is not quiet; the share of all cores busy."""
    share, busiest = busy_others(seconds)
    print(f"machine busy before the run:  {share:.1%} of {os.cpu_count()} cores")
    if share > QUIET:
        print("WARNING: the machine is not quiet, so every figure below will be low. Busiest:")
        for line in busiest[:8]:
            print(f"    {line}")
    return share
