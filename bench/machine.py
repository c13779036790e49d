"""What the machine is doing besides the benchmark (Linux /proc; nothing elsewhere).

A benchmark's figures are only as good as the quiet of the machine it runs on: a few
forgotten processes polling in the background each take a percent or two of a core,
and on two cores that is several percent off every rate. The benches look for them
before they start, and say which they found.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import timeit
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ProcessTimes:
    """One process's CPU time so far (Linux ``/proc/PID/stat``)."""

    pid: int
    name: str  # the executable's name, as ``ps -o comm`` shows it
    seconds: float  # user + system
    children: float  # user + system of its children that exited and were waited for


def process_times() -> list[ProcessTimes]:
    """Every process that can be read, with its CPU time so far; [] without /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: list[ProcessTimes] = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found.append(
            ProcessTimes(
                pid=int(entry.name),
                name=stat[stat.index("(") + 1 : stat.rindex(")")],
                seconds=(int(fields[11]) + int(fields[12])) / tick,
                children=(int(fields[13]) + int(fields[14])) / tick,
            )
        )
    return found


def _command_line(process: ProcessTimes) -> str:
    try:
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    except OSError:
        command = b""
    return command.replace(b"\0", b" ").decode(errors="replace").strip() or process.name


def busy_others(seconds: float = 1.0) -> tuple[float, list[str]]:
    """Share of all cores busy over ``seconds`` while this process sleeps, and the
    processes that used over 1% of a core meanwhile, busiest first."""
    before, busy_before = {p.pid: p for p in process_times()}, busy_seconds()
    time.sleep(seconds)
    after, busy_after = process_times(), busy_seconds()
    share = (busy_after - busy_before) / (seconds * (os.cpu_count() or 1))
    used = [
        (p.seconds - before[p.pid].seconds, p)
        for p in after
        if p.pid in before and p.pid != os.getpid()
    ]
    busiest = sorted((u for u in used if u[0] / seconds > 0.01), key=lambda u: -u[0])
    return share, [f"pid {p.pid} {_command_line(p)[:70]}" for _, p in busiest]


def cpu_model() -> str:
    """The processor, as /proc/cpuinfo names it, with what tells models of one name
    apart ("AMD EPYC" covers several generations: family 23 is Zen 2, 25 Zen 3 and 4)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    return (
        f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model "
        f"{fields.get('model', '?')}, stepping {fields.get('stepping', '?')}; "
        f"{float(fields.get('cpu MHz', 0)):.0f} MHz; cache {fields.get('cache size', '?')})"
    )


def _python_work() -> int:
    """A slice of what the ingest path does in Python: a dict built, keys sorted,
    strings joined and hashed."""
    event = {f"member{i}": f"value number {i}" for i in range(15)}
    text = ",".join(f"{k}={event[k]}" for k in sorted(event))
    return hash(text)


def python_speed() -> float:
    """Microseconds one :func:`_python_work` takes (best of five): how fast this
    interpreter runs pure Python here (an unoptimised build is ~25% slower)."""
    best = min(timeit.repeat(_python_work, number=20_000, repeat=5))
    return best / 20_000 * 1e6


def report_machine() -> None:
    """Say which processor and interpreter every figure below was measured on."""
    print(f"cpu:    {os.cpu_count()} x {cpu_model()}")
    print(
        f"python: {sys.executable} ({platform.python_implementation()} "
        f"{platform.python_version()}, {' '.join(platform.python_build())}); "
        f"pure-Python calibration {python_speed():.2f} us"
    )
    venv = Path(__file__).resolve().parents[1] / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        print(
            f"WARNING: not the project's {venv} (which `make` builds with an optimised "
            "interpreter): figures may be ~25% low. Run `.venv/bin/python bench/...`."
        )


def report_quiet(seconds: float = 1.0) -> float:
    """Say which machine this is, how busy it is before the benchmark starts, and which
    processes keep it busy when it is not quiet; the share of all cores busy."""
    report_machine()
    share, busiest = busy_others(seconds)
    print(f"machine busy before the run:  {share:.1%} of {os.cpu_count()} cores")
    if share > QUIET:
        print("WARNING: the machine is not quiet, so every figure below will be low. Busiest:")
        for line in busiest[:8]:
            print(f"    {line}")
    return share
