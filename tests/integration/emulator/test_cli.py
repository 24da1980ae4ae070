"""`lightspeed-emulator serve` as a real subprocess: the ready line, then real answers."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

SCRIPT = Path(sys.executable).with_name("lightspeed-emulator")
READY = re.compile(r"^Lightspeed emulator listening on (http://127\.0\.0\.1:(\d+))$")


def _read_line(proc: subprocess.Popen[str], seconds: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, "the emulator printed nothing in time"
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().rstrip("\n")
    if not line:  # EOF: the process died; show why
        proc.wait(timeout=10)
        pytest.fail(f"the emulator exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
    return line


@pytest.fixture
def serve() -> Iterator:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [str(SCRIPT), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_prints_the_ready_line_and_answers(serve) -> None:
    proc = serve(
        "--port", "0", "--shops", "1", "--days", "1", "--sales-per-day", "5",
        "--now", "2026-03-02T09:00:00+00:00", "--clock-speed", "0", "--control",
        "--fault", "try-later:count=1",
    )  # fmt: skip
    line = _read_line(proc, 60)
    match = READY.match(line)
    assert match, line
    url = match.group(1)

    stats = requests.get(f"{url}/_emulator/stats", timeout=10)
    assert stats.status_code == 200
    assert parsedate_to_datetime(stats.headers["Date"]).isoformat() == "2026-03-02T09:00:00+00:00"
    faults = requests.get(f"{url}/_emulator/faults", timeout=10).json()["faults"]
    assert [fault["spec"] for fault in faults] == ["try-later:count=1"]
    unauthorized = requests.get(f"{url}/API/V3/Account.json", timeout=10)
    assert unauthorized.status_code == 400  # the armed try-later fault comes first
    assert requests.get(f"{url}/API/V3/Account.json", timeout=10).status_code == 401

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_a_bad_fault_spec_exits_2_with_a_message(serve) -> None:
    proc = serve("--port", "0", "--fault", "5xx:sometimes")
    assert proc.wait(timeout=30) == 2
    assert proc.stderr is not None
    assert "bad --fault" in proc.stderr.read()
