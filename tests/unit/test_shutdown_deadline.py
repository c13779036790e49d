"""A process that cannot stop cleanly after SIGTERM exits by itself after its grace."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUCK = """
import sys, time
from cli.processes import stop_on_signals
stop = stop_on_signals(grace=float(sys.argv[1]))
print("ready", flush=True)
while True:  # a clean stop never comes: stuck in a driver, say
    time.sleep(0.05)
"""


def start_stuck_process(grace: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(grace)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_stuck_process_exits_after_its_grace() -> None:
    proc = start_stuck_process(grace=0.5)
    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 128 + signal.SIGTERM


def test_a_second_signal_exits_at_once() -> None:
    proc = start_stuck_process(grace=600)  # only the second signal can end it in time
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # two pending signals of one kind would be delivered as one
    proc.send_signal(signal.SIGINT)

    assert proc.wait(timeout=30) == 128 + signal.SIGINT
