"""Fixtures of the fault-injection suite: worlds, fault-free references, the summary table."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

# The harness sits next to this file; importlib mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SUMMARY_PATH = REPO / "tests" / "artifacts" / "chaos-summary.md"
PG_ADMIN_DSN = os.environ.get("LIGHTSPEED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

OUTCOMES: list[harness.Outcome] = []
# Rows per compared table in the fault-free reference of the standard schedule.
REFERENCE_SIZES: dict[str, int] = {}


def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def fast_hook() -> Iterator[None]:
    harness.install_fast_hook()
    yield
    harness.uninstall_fast_hook()


@pytest.fixture
def make_world(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., harness.World]]:
    """Build worlds on this test's warehouse (one world per test: one warehouse)."""
    worlds: list[harness.World] = []

    def make(name: str, **options: object) -> harness.World:
        world = harness.World(name, warehouse_dsn, monkeypatch.setenv, **options)  # type: ignore[arg-type]
        worlds.append(world)
        return world.__enter__()

    yield make
    for world in worlds:
        world.__exit__(None, None, None)


class References:
    """Fault-free runs, one per schedule, each in its own database; computed once per session."""

    def __init__(self, template: str) -> None:
        self._template = template
        self._snapshots: dict[tuple, harness.Snapshot] = {}
        self._databases: list[str] = []

    def get(self, schedule: tuple[tuple[int, int], ...] = harness.SCHEDULE) -> harness.Snapshot:
        if schedule not in self._snapshots:
            self._snapshots[schedule] = self._run(schedule)
        return self._snapshots[schedule]

    def _run(self, schedule: tuple[tuple[int, int], ...]) -> harness.Snapshot:
        name = f"ls_chaos_ref_{uuid.uuid4().hex[:10]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._databases.append(name)
        dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
        with pytest.MonkeyPatch.context() as patch:
            world = harness.World("reference", dsn, patch.setenv)
            with world:
                world.run_schedule(schedule)
                failed = [r for r in world.runs if r.state != "success"]
                assert not failed, [(r.run_key, r.failure) for r in failed]
                assert world.faults_fired == 0
                snapshot = world.snapshot()
        if schedule == harness.SCHEDULE:
            REFERENCE_SIZES.update({name: len(rows) for name, rows in snapshot.tables.items()})
            REFERENCE_SIZES["data_export (hourly rows)"] = len(snapshot.export)
        return snapshot

    def drop(self) -> None:
        for name in self._databases:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def references(_template_database: str) -> Iterator[References]:
    refs = References(_template_database)
    try:
        yield refs  # computed lazily inside a test, where `fast_hook` is installed
    finally:
        refs.drop()


# The artifact is the full suite's: a CI run (no chaos-marked test) only prints its table.
_FULL_RUN: list[bool] = []


@pytest.fixture
def record_outcome(request: pytest.FixtureRequest) -> Callable[[harness.Outcome], None]:
    if request.node.get_closest_marker("chaos") is not None:
        _FULL_RUN.append(True)
    return OUTCOMES.append


def summary_table(outcomes: list[harness.Outcome]) -> str:
    header = (
        "| scenario | faults injected | DAG runs | failed runs | task retries | "
        "records compared | lost | duplicated | note |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = [
        f"| {o.scenario} | {o.faults} | {o.runs} | {o.failed_runs} | {o.retries} | "
        f"{o.compared} | {o.lost} | {o.duplicated} | {o.note} |"
        for o in outcomes
    ]
    total = harness.Outcome(
        "**total**",
        sum(o.faults for o in outcomes),
        sum(o.runs for o in outcomes),
        sum(o.failed_runs for o in outcomes),
        sum(o.retries for o in outcomes),
        sum(o.compared for o in outcomes),
        sum(o.lost for o in outcomes),
        sum(o.duplicated for o in outcomes),
    )
    lines.append(
        f"| {total.scenario} | {total.faults} | {total.runs} | {total.failed_runs} | "
        f"{total.retries} | {total.compared} | {total.lost} | {total.duplicated} | |"
    )
    return header + "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    table = summary_table(OUTCOMES)
    if REFERENCE_SIZES:
        sizes = ", ".join(f"{name} {count}" for name, count in REFERENCE_SIZES.items())
        table += f"\nRecords compared per scenario (the fault-free reference): {sizes}.\n"
    terminalreporter.section("fault-injection summary")
    terminalreporter.write(table)
    if _FULL_RUN:
        SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY_PATH.write_text("# Fault-injection summary (`make chaos`)\n\n" + table)
        terminalreporter.write_line(f"(written to {SUMMARY_PATH.relative_to(REPO)})")
