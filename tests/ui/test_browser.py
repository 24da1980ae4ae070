"""Headless Chromium through the whole story, as a person would do it.

Log in to Airflow, open "Lightspeed" in Airflow's navigation (the plugin's page inside the
UI), click "Login to Lightspeed", log in on the emulator's pages and authorize, see
"Authenticated", press "Run now" and watch the run succeed, then open the dashboard. A real
Airflow scheduler (LocalExecutor) runs the DAG against the emulator and PostgreSQL; its task
workers talk to this session's in-process API server. Screenshots of every step are kept in
tests/artifacts/ui/ (gitignored), with the scheduler's log when something fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import yaml
from chromium_cdp import Chromium, find_chromium
from conftest import ARTIFACTS, PASSWORDS, AirflowServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

FRAME = "iframe[title='Lightspeed']"
ROW = "tr[data-location-id='0001']"
BROWSER_CHAIN = {
    "connection": "lightspeed_default",
    "warehouse": "lightspeed_warehouse",
    "defaults": {"initial_days": 1, "lookback_hours": 24, "retries": 0},
    "shops": [
        {
            "shop_id": 1,
            "sensor": "pearl",
            "time_zone": "US/Eastern",
            "label": "Boston Downtown",
            "opening_hours": {"mon-sat": "09:00-21:00", "sun": "11:00-18:00"},
        }
    ],
}


@pytest.fixture
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not found: install Debian's `chromium` (or set CHROMIUM_BIN)")
    return binary


@pytest.fixture
def browser_chain(
    airflow_server: AirflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A one-shop chain, its DAG serialized, its pool created, and no scheduled run due.

    The DAGs of the session's chain are written back afterwards (other tests use them).
    """
    from conftest import _serialize_dags

    path = tmp_path / "shops.yaml"
    path.write_text(yaml.safe_dump(BROWSER_CHAIN, sort_keys=False))
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(path))
    _serialize_dags()
    _prepare_metadata("lightspeed_shop_0001", "lightspeed_lightspeed_default")
    yield path
    monkeypatch.undo()
    _serialize_dags()
    _prepare_metadata("lightspeed_shop_0001", None, pause=True)


def _prepare_metadata(dag_id: str, pool: str | None, pause: bool = False) -> None:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))
        # Only the run the test starts should run: push the next scheduled one out of reach.
        values = {"next_dagrun_create_after": datetime.now(UTC) + timedelta(days=1)}
        if pause:
            values["is_paused"] = True
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(**values))
    if pool is not None:
        Pool.create_or_update_pool(pool, slots=4, description="Lightspeed", include_deferred=False)


@pytest.fixture
def scheduler(airflow_server: AirflowServer, browser_chain: Path, tmp_path: Path) -> Iterator[Path]:
    """`airflow scheduler` in its own process group, its workers calling our API server."""
    log_path = tmp_path / "scheduler.log"
    env = {
        **os.environ,
        "AIRFLOW__API__BASE_URL": airflow_server.url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{airflow_server.url}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "scheduler"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its LocalExecutor workers die with it (kill the group)
        )
    try:
        yield log_path
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _records_of_last_run(dsn: str) -> int:
    with psycopg2.connect(dsn) as pg, pg.cursor() as cur:
        cur.execute("SELECT coalesce(sum(upserted), 0) FROM lightspeed_staging.load_log")
        return int(cur.fetchone()[0])


def test_login_to_lightspeed_and_run_now_in_a_browser(
    airflow_server: AirflowServer,
    chromium_binary: str,
    lightspeed_conn: str,
    warehouse_dsn: str,
    scheduler: Path,
) -> None:
    shots = ARTIFACTS / "browser"
    try:
        with Chromium(chromium_binary, shots) as browser:
            _log_in_to_airflow(browser, airflow_server)
            _log_in_to_lightspeed(browser, airflow_server)
            _run_now_and_see_it_succeed(browser)
            _open_the_dashboard(browser)
    except BaseException:
        if scheduler.exists():
            shots.mkdir(parents=True, exist_ok=True)
            (shots / "scheduler.log").write_bytes(scheduler.read_bytes()[-200_000:])
        raise
    assert _records_of_last_run(warehouse_dsn) > 0


def _log_in_to_airflow(browser: Chromium, server: AirflowServer) -> None:
    browser.goto(f"{server.url}/plugin/lightspeed")
    browser.wait_for("!!document.querySelector('input[name=password]')", "Airflow's login form")
    assert "/auth/login" in browser.url()
    browser.type_into("input[name=username]", "admin")
    browser.type_into("input[name=password]", PASSWORDS["admin"])
    browser.screenshot("airflow-login")
    browser.click("button[type=submit]")
    _wait_for_frame(browser, "the Lightspeed page inside Airflow's UI")
    browser.wait_for(
        f"!!document.querySelector({FRAME!r}).contentDocument.querySelector("
        "'.status[data-state=not_authenticated]')",
        "the status 'Not authenticated'",
    )
    browser.screenshot("lightspeed-page-before-login")


def _log_in_to_lightspeed(browser: Chromium, server: AirflowServer) -> None:
    browser.click("a.login", frame=FRAME)
    # The whole window goes to Lightspeed (its login page must not be framed).
    browser.wait_for("!!document.querySelector('input[name=password]')", "Lightspeed's login form")
    assert "/auth/oauth/authorize" in browser.url()
    browser.type_into("input[name=username]", "owner")
    browser.type_into("input[name=password]", "owner")
    browser.screenshot("lightspeed-login")
    browser.click("button[type=submit], input[type=submit]")
    browser.wait_for(
        "!!document.querySelector('[name=decision][value=authorize]')", "the Authorize page"
    )
    browser.screenshot("lightspeed-authorize")
    browser.click("[name=decision][value=authorize]")
    _wait_for_frame(browser, "the Lightspeed page after the callback")
    assert browser.url().startswith(f"{server.url}/plugin/lightspeed")
    status = browser.wait_for(
        f"(() => {{ const s = document.querySelector({FRAME!r}).contentDocument"
        ".querySelector('.status[data-state=authenticated]'); return s && s.innerText; })()",
        "the status 'Authenticated'",
    )
    assert status == "Authenticated"
    page = browser.text(frame=FRAME)
    assert "Authenticated: Lightspeed account Demo Outdoor Co. (ID 120645)" in page
    assert "Boston Downtown" in page
    browser.screenshot("authenticated")


def _run_now_and_see_it_succeed(browser: Chromium) -> None:
    browser.click(f"{ROW} button.run-now", frame=FRAME)
    message = browser.wait_for(
        f"document.querySelector({FRAME!r}).contentDocument"
        ".querySelector('#run-message:not([hidden])')?.innerText",
        "the Run now message",
    )
    assert message.startswith("Started manual__"), message
    browser.screenshot("run-started")
    state = browser.wait_for(
        f"(() => {{ const r = document.querySelector({FRAME!r}).contentDocument"
        f".querySelector({ROW!r}); const s = r && r.dataset.state; "
        "return (s === 'success' || s === 'failed') ? s : null; })()",
        "the run to finish",
        timeout=180,
    )
    browser.screenshot(f"run-{state}")
    assert state == "success"
    records = browser.text(f"{ROW} td.records", frame=FRAME).strip()
    assert records.isdigit() and int(records) > 0, records


def _open_the_dashboard(browser: Chromium) -> None:
    browser.click(f"{ROW} td.links a[href*=dashboard]", frame=FRAME)
    browser.wait_for(
        f"document.querySelector({FRAME!r}).contentDocument.querySelectorAll('#dashboard svg')"
        ".length >= 4",
        "the dashboard's charts",
    )
    browser.screenshot("dashboard")


def _wait_for_frame(browser: Chromium, what: str) -> None:
    browser.wait_for(
        f"(() => {{ const f = document.querySelector({FRAME!r}); const d = f && f.contentDocument;"
        " return d && d.readyState === 'complete' && !!d.querySelector('#shops'); })()",
        what,
        timeout=60,
    )
