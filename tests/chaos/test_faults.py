"""Each fault, then random mixes: the shop DAGs run through them against the emulator, and
the warehouse and Data Export end up exactly as after a fault-free run (nothing lost,
nothing doubled).

Unmarked tests are the CI slice (`make test`); `@pytest.mark.chaos` ones run in `make chaos`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path

import harness
import psycopg2
import pytest

from lightspeed import tasks
from lightspeed.authorize import drive_login_form
from lightspeed.cli import main as lightspeed_cli

REPO = Path(__file__).resolve().parents[2]
Record = Callable[[harness.Outcome], None]


def _finish(
    world: harness.World,
    references,
    record_outcome: Record,
    scenario: str,
    *,
    schedule: tuple[tuple[int, int], ...] = harness.SCHEDULE,
    note: str = "",
) -> harness.Comparison:
    comparison = harness.compare(references.get(schedule), world.snapshot())
    record_outcome(harness.Outcome.of(scenario, world, comparison, note))
    assert comparison.clean, comparison.examples
    assert comparison.compared > 1500, "the reference holds a real chain"
    return comparison


def _single_fault(
    make_world, references, record_outcome: Record, scenario: str, *specs: str, tick: int = 0
) -> harness.World:
    """Arm `specs` before tick `tick`, run the schedule, compare with the reference."""
    world = make_world(scenario)
    world.run_schedule(before_tick=lambda index: world.arm(*specs) if index == tick else None)
    assert world.faults_fired > 0, "the fault never fired: the scenario tested nothing"
    assert all(run.state == "success" for run in world.runs), [r.failure for r in world.runs]
    note = f"{world.sleep.seconds:.0f} s of waits skipped" if world.sleep.seconds >= 1 else ""
    _finish(world, references, record_outcome, scenario, note=note)
    return world


# -- the CI slice ----------------------------------------------------------------------------


def test_5xx_burst_longer_than_the_hooks_retries(make_world, references, record_outcome) -> None:
    """Eight 5xx in a row outlast the hook's six attempts: the task fails with
    TransientAPIError, its transaction rolls back, and Airflow's retry loads everything."""
    world = _single_fault(
        make_world, references, record_outcome, "5xx burst (8, beyond hook retries)",
        "5xx:count=8:status=any:entity=Sale",
    )  # fmt: skip
    retried = [a for r in world.runs for a in r.attempts if a.outcome == "retry"]
    assert [a.task for a in retried] == ["import_sales"]
    assert retried[0].error.startswith("TransientAPIError: Lightspeed kept failing"), retried


def test_token_expiring_mid_pagination(make_world, references, record_outcome) -> None:
    world = _single_fault(
        make_world, references, record_outcome, "token expires mid-pagination",
        "expire-token:after=2:entity=Sale",
    )  # fmt: skip
    assert world.emulator.stats.snapshot()["refreshes"] >= 1
    assert sum(r.retries for r in world.runs) == 0, "a 401 is a refresh, not a task retry"


# -- make chaos ------------------------------------------------------------------------------

SINGLE_FAULTS = [
    ("5xx burst (3, within hook retries)", ("5xx:count=3:status=503",)),
    ("429 storm with Retry-After", ("429:count=30:retry_after=2",)),
    ("try again later (400)", ("try-later:count=3",)),
    ("slower than the read timeout", (f"slow:count=3:seconds={harness.SLOW_SECONDS}",)),
    ("connection dropped mid-body", ("drop:count=3",)),
    ("truncated JSON", ("truncate:mode=json:count=3",)),
    ("truncated body (Content-Length)", ("truncate:mode=length:count=3",)),
]


@pytest.mark.chaos
@pytest.mark.parametrize(("scenario", "specs"), SINGLE_FAULTS, ids=[s for s, _ in SINGLE_FAULTS])
@pytest.mark.parametrize("tick", [0, 1], ids=["first-import", "incremental"])
def test_single_fault(
    make_world, references, record_outcome, scenario: str, specs: tuple[str, ...], tick: int
) -> None:
    label = f"{scenario}, {'first import' if tick == 0 else 'incremental'}"
    _single_fault(make_world, references, record_outcome, label, *specs, tick=tick)


@pytest.mark.chaos
def test_429_storm_honours_retry_after(make_world, references, record_outcome) -> None:
    world = _single_fault(
        make_world, references, record_outcome, "429 storm (Retry-After 7)",
        "429:count=12:retry_after=7",
    )  # fmt: skip
    assert world.sleep.seconds >= 12 * 7, "every 429 waited its Retry-After"


def _authorize_with_the_cli(world: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lightspeed authorize` as a user runs it; the browser (login + Authorize) is scripted."""

    def browser(url: str, *args: object, **kwargs: object) -> bool:
        threading.Thread(
            target=drive_login_form, args=(url, "owner", "owner"), daemon=True
        ).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    code = lightspeed_cli(
        ["authorize", "--conn-id", world.conn_id, "--warehouse", world.dsn, "--port", "0",
         "--timeout", "30"]
    )  # fmt: skip
    assert code == 0


@pytest.mark.chaos
def test_revoked_refresh_token_fails_then_catches_up_after_authorize(
    make_world, references, record_outcome, monkeypatch, capsys
) -> None:
    world = make_world("revoked")
    world.tick(harness.SCHEDULE[0][1])
    world.advance(harness.SCHEDULE[1][0])
    revoked = world.emulator.oauth.revoke_refresh_tokens(with_access=True)
    assert revoked >= 1
    failed = world.tick(0)
    assert [r.state for r in failed] == ["failed", "failed"]
    for run in failed:
        assert len(run.attempts) == 1, "a revoked authorization is not retried"
        assert run.attempts[0].task == "plan"
        assert f"Run `lightspeed authorize --conn-id {world.conn_id}`" in run.failure

    _authorize_with_the_cli(world, monkeypatch)
    assert "Authenticated: account" in capsys.readouterr().out
    world.advance(harness.SCHEDULE[2][0])
    caught_up = world.tick(0)
    assert [r.state for r in caught_up] == ["success", "success"]
    _finish(world, references, record_outcome, "refresh token revoked, then `lightspeed authorize`",
            note="2 runs failed with the re-authorize message")  # fmt: skip


@pytest.mark.chaos
def test_postgres_session_terminated_during_a_load(make_world, references, record_outcome) -> None:
    """pg_terminate_backend of the loading session (what a PostgreSQL restart does to it)."""
    world = make_world("pg-terminated")
    # A pause on the second Sale page keeps the load's transaction open long enough to hit.
    world.arm("slow:count=1:seconds=0.3:after=2:entity=Sale")
    with harness.backend_killer(world.dsn, when=harness.extracting_backends) as killed:
        world.tick(harness.SCHEDULE[0][1])
    assert len(killed) == 1
    for advance, days_back in harness.SCHEDULE[1:]:
        world.advance(advance)
        world.tick(days_back)
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    retried = [a for r in world.runs for a in r.attempts if a.outcome == "retry"]
    assert len(retried) == 1 and retried[0].task.startswith("import_"), retried
    _finish(world, references, record_outcome, "PostgreSQL session killed mid-load",
            note=f"retried after {retried[0].error.split(':')[0]}")  # fmt: skip


CHILD = """
import json, sys
from lightspeed import tasks
from lightspeed.config import parse_config
args = json.loads(sys.argv[1])
config = parse_config(args["chain"], source="<chaos child>")
shop = next(s for s in config.accounts[0].shops if s.shop_id == args["shop_id"])
target = tasks.ShopTarget(args["conn_id"], args["dsn"], shop, config.defaults)
print("STARTED", flush=True)
tasks.import_shop_entity(target, args["entity"], args["plan"])
print("FINISHED", flush=True)
"""


def _extract_then_sigkill(world: harness.World, target: tasks.ShopTarget, plan: dict) -> int:
    """The import task body in a worker process, SIGKILLed while its extraction is open."""
    args = {
        "chain": harness.CHAIN,
        "shop_id": target.shop.shop_id,
        "conn_id": world.conn_id,
        "dsn": world.dsn,
        "entity": "SALES",
        "plan": plan,
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=harness.env_for_child(),
    )
    try:
        deadline = time.monotonic() + 60
        admin = psycopg2.connect(world.dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            while not harness.extracting_backends(cur):
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "the child never started extracting"
                time.sleep(0.02)
            pid = harness.extracting_backends(cur)[0]
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            # PostgreSQL notices the dead client and rolls its transaction back.
            while time.monotonic() < deadline:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.02)
        admin.close()
    finally:
        if child.poll() is None:
            child.kill()
        output, _ = child.communicate()
    assert "FINISHED" not in output
    return child.returncode


@pytest.mark.chaos
def test_worker_sigkilled_mid_extraction_then_retried(make_world, references, record_outcome) -> None:
    world = make_world("sigkill")
    # The worker hangs on its second Sale page (a slow answer, within its 60 s timeout).
    world.arm("slow:count=1:seconds=8:after=2:entity=Sale")
    killed: list[int] = []

    def import_step(target, name, plan, record):
        if name == "SALES" and not killed:
            killed.append(_extract_then_sigkill(world, target, plan))
            record.attempts.append(harness.TaskAttempt("import_sales", record.shop, "retry", "SIGKILL"))
        return world.import_entity(target, name, plan, record)

    first, second = world.targets()
    world.run_shop(first, harness.SCHEDULE[0][1], import_step=import_step)
    world.run_shop(second, harness.SCHEDULE[0][1])
    assert killed == [-signal.SIGKILL]
    for advance, days_back in harness.SCHEDULE[1:]:
        world.advance(advance)
        world.tick(days_back)
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    _finish(world, references, record_outcome, "worker SIGKILLed mid-extraction, retried")


@pytest.mark.chaos
@pytest.mark.parametrize("tick", [0, 1], ids=["first-import", "incremental"])
def test_two_runs_of_one_shop_overlapping(make_world, references, record_outcome, tick: int) -> None:
    world = make_world("overlap")
    for index, (advance, days_back) in enumerate(harness.SCHEDULE):
        world.advance(advance)
        if index != tick:
            world.tick(days_back)
            continue
        first, second = world.targets()
        barrier = threading.Barrier(2)

        def run(target=first, days_back=days_back) -> None:
            barrier.wait(timeout=10)
            world.run_shop(target, days_back)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        world.run_shop(second, days_back)
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    assert len(world.runs) == 7
    _finish(world, references, record_outcome,
            f"two runs of shop 0001 overlapping ({'first import' if tick == 0 else 'incremental'})")  # fmt: skip


MIX = (
    "5xx:rate=0.06:status=any",
    "429:rate=0.04:retry_after=1",
    "try-later:rate=0.02",
    "drop:rate=0.03",
    "truncate:rate=0.03:mode=json",
    "truncate:rate=0.02:mode=length",
    f"slow:rate=0.03:seconds={harness.SLOW_SECONDS}",
)


def _mix(seed: int) -> list[str]:
    return [f"seed={seed}", *MIX, f"expire-token:after={3 + seed % 7}"]


def _random_mix(make_world, references, record_outcome, seed: int) -> None:
    world = make_world(f"mix-{seed}")
    world.arm(*_mix(seed))
    world.run_schedule()
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    fired = world.emulator.faults.fired_counts()
    _finish(world, references, record_outcome, f"random mix, seed {seed}",
            note=", ".join(f"{k} {v}" for k, v in sorted(fired.items())))  # fmt: skip


def test_random_mix_ci(make_world, references, record_outcome) -> None:
    _random_mix(make_world, references, record_outcome, seed=1)


@pytest.mark.chaos
@pytest.mark.parametrize("seed", [2, 3, 4, 5, 6, 7])
def test_random_mix(make_world, references, record_outcome, seed: int) -> None:
    _random_mix(make_world, references, record_outcome, seed)
