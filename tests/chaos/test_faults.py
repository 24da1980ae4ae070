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
    note: str = "",
) -> harness.Comparison:
    comparison = harness.compare(references.get(), world.snapshot())
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


def test_the_comparison_sees_lost_changed_extra_and_doubled_rows() -> None:
    def snap(sales: list[tuple[tuple, str]], export: list[tuple[tuple, str]]) -> harness.Snapshot:
        tables = {name: [] for name in harness.COMPARED_TABLES}
        tables["sale"] = sales
        return harness.Snapshot(tables, export)

    reference = snap([((1, 1), "a"), ((1, 2), "b"), ((1, 3), "c")], [(("0001", "d", "09"), "x")])
    faulted = snap(
        [((1, 1), "a"), ((1, 2), "B"), ((1, 4), "d"), ((1, 4), "d")],
        [(("0001", "d", "09"), "x"), (("0001", "d", "09"), "x")],
    )
    result = harness.compare(reference, faulted)
    # lost: sale 3 missing, sale 2 changed; duplicated: sale 4 extra twice, one export row twice
    assert (result.compared, result.lost, result.changed, result.duplicated) == (4, 2, 1, 3)
    assert harness.compare(reference, reference).clean


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
        threading.Thread(target=drive_login_form, args=(url, "owner", "owner"), daemon=True).start()
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
    world.injected += 1
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
    world.injected += 1
    for advance, days_back in harness.SCHEDULE[1:]:
        world.advance(advance)
        world.tick(days_back)
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    retried = [a for r in world.runs for a in r.attempts if a.outcome == "retry"]
    assert len(retried) == 1 and retried[0].task.startswith("import_"), retried
    # The task log names the cause, not a rollback on the dead connection (InterfaceError).
    assert retried[0].error.startswith("OperationalError:"), retried
    _finish(world, references, record_outcome, "PostgreSQL session killed mid-load",
            note="the import retried after OperationalError")  # fmt: skip


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


def _slow_fired(world: harness.World) -> bool:
    return world.emulator.faults.fired_counts().get("slow", 0) > 0


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
            # Half-way: the transaction is open and the worker waits for its second page.
            while not (pids := harness.extracting_backends(cur)) or not _slow_fired(world):
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "the child never started extracting"
                time.sleep(0.02)
            pid = pids[0]
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
def test_worker_sigkilled_mid_extraction_then_retried(
    make_world, references, record_outcome
) -> None:
    world = make_world("sigkill")
    # The worker hangs on its second Sale page (a slow answer, within its 60 s timeout).
    world.arm("slow:count=1:seconds=8:after=2:entity=Sale")
    killed: list[int] = []

    def import_step(target, name, plan, record):
        if name == "SALES" and not killed:
            killed.append(_extract_then_sigkill(world, target, plan))
            record.attempts.append(
                harness.TaskAttempt("import_sales", record.shop, "retry", "SIGKILL")
            )
        return world.import_entity(target, name, plan, record)

    first, second = world.targets()
    world.run_shop(first, harness.SCHEDULE[0][1], import_step=import_step)
    world.run_shop(second, harness.SCHEDULE[0][1])
    assert killed == [-signal.SIGKILL]
    world.injected += 1
    for advance, days_back in harness.SCHEDULE[1:]:
        world.advance(advance)
        world.tick(days_back)
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    _finish(world, references, record_outcome, "worker SIGKILLed mid-extraction, retried")


def _run_twice_at_once(world: harness.World, target, days_back: int) -> list[harness.RunRecord]:
    """Two DAG runs of the same shop started together (two workers, two run ids)."""
    barrier = threading.Barrier(2)
    records: list[harness.RunRecord] = []

    def run() -> None:
        barrier.wait(timeout=10)
        records.append(world.run_shop(target, days_back))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return records


@pytest.mark.chaos
@pytest.mark.parametrize("tick", [0, 1], ids=["first-import", "incremental"])
def test_two_runs_of_one_shop_overlapping(
    make_world, references, record_outcome, tick: int
) -> None:
    world = make_world("overlap")
    for index, (advance, days_back) in enumerate(harness.SCHEDULE):
        world.advance(advance)
        if index != tick:
            world.tick(days_back)
            continue
        first, second = world.targets()
        one, other = _run_twice_at_once(world, first, days_back)
        assert one.started < other.finished and other.started < one.finished, "they overlapped"
        world.run_shop(second, days_back)
        world.injected += 1
    assert all(r.state == "success" for r in world.runs), [r.failure for r in world.runs]
    assert len(world.runs) == 7
    when = "first import" if tick == 0 else "incremental"
    _finish(world, references, record_outcome, f"two runs of shop 0001 overlapping ({when})")


# About one request in three meets a fault; a mix can outlast the hook's own retries, so
# Airflow's task retries get exercised too.
MIX = (
    "5xx:rate=0.10:status=any",
    "429:rate=0.06:retry_after=1",
    "try-later:rate=0.03",
    "drop:rate=0.04",
    "truncate:rate=0.04:mode=json",
    "truncate:rate=0.03:mode=length",
    f"slow:rate=0.04:seconds={harness.SLOW_SECONDS}",
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
