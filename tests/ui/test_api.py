"""The plugin's endpoints end to end: real Airflow API server app, real emulator over HTTP,
real PostgreSQL warehouse, Airflow's real metadata DB.

The browser is played by `requests`: it keeps the cookies, follows what a person clicks.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import psycopg2
import pytest
import requests
from conftest import HTTP_TIMEOUT, AirflowServer, log_in_at_lightspeed

pytestmark = pytest.mark.timeout(180)

ACCOUNT = "Demo Outdoor Co."
ACCOUNT_ID = 120645
DAG_0001 = "lightspeed_shop_0001"


def _start_login(server: AirflowServer, browser: requests.Session) -> requests.Response:
    answer = browser.get(
        server.url + "/lightspeed/login?conn_id=lightspeed_default&return_to=/lightspeed/",
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code == 303, answer.text
    return answer


def _login(server: AirflowServer, *, decision: str = "authorize", tamper: bool = False) -> str:
    """Click "Login to Lightspeed", log in at the emulator, come back; return the page."""
    browser = server.session("admin")
    start = _start_login(server, browser)
    at_lightspeed = log_in_at_lightspeed(
        requests.Session(), start.headers["location"], decision=decision
    )
    assert at_lightspeed.status_code in (302, 303), at_lightspeed.text
    callback = at_lightspeed.headers["location"]
    if tamper:
        callback = callback.replace("state=", "state=forged")
    back = browser.get(callback, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert back.status_code == 303
    assert back.headers["location"] == "/lightspeed/"
    return browser.get(server.url + "/lightspeed/", timeout=HTTP_TIMEOUT).text


def _stored_tokens(dsn: str) -> list[tuple]:
    with psycopg2.connect(dsn) as pg, pg.cursor() as cur:
        cur.execute("SELECT conn_id, account_id, account_name FROM lightspeed_auth.token_set")
        return cur.fetchall()


def _api(server: AirflowServer, user: str = "admin") -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token(user)}"
    return session


# -- login ------------------------------------------------------------------------------------


def test_status_before_any_login_says_not_authenticated(
    airflow_server: AirflowServer, lightspeed_conn: str
) -> None:
    status = _api(airflow_server).get(
        airflow_server.url + "/lightspeed/api/status", timeout=HTTP_TIMEOUT
    )

    assert status.status_code == 200
    [account] = status.json()["accounts"]
    assert account["conn_id"] == "lightspeed_default"
    assert account["state"] == "not_authenticated"
    assert account["may_login"] is True


def test_login_starts_the_code_flow_with_state_and_our_callback(
    airflow_server: AirflowServer, lightspeed_conn: str, emulator: object
) -> None:
    start = _start_login(airflow_server, airflow_server.session("admin"))

    target = urlsplit(start.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}" == emulator.url  # type: ignore[attr-defined]
    assert target.path == "/auth/oauth/authorize"
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["demo-client"]
    assert len(query["state"][0]) >= 24
    assert query["redirect_uri"] == [airflow_server.url + "/lightspeed/callback"]
    cookie = start.cookies.get("lightspeed_oauth")
    assert cookie and query["state"][0] not in cookie  # signed, not readable as is
    assert "demo-secret" not in start.headers["location"]


def test_login_through_lightspeed_stores_the_tokens_and_shows_authenticated(
    airflow_server: AirflowServer, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    page = _login(airflow_server)

    assert f"Authenticated: Lightspeed account {ACCOUNT} (ID {ACCOUNT_ID}) with 3 shop(s)" in page
    assert _stored_tokens(warehouse_dsn) == [("lightspeed_default", ACCOUNT_ID, ACCOUNT)]
    # The page's status (what its JS shows) asks Lightspeed live with the stored tokens.
    status = _api(airflow_server).get(
        airflow_server.url + "/lightspeed/api/status", timeout=HTTP_TIMEOUT
    )
    [account] = status.json()["accounts"]
    assert account["state"] == "authenticated"
    assert account["account"] == {"id": ACCOUNT_ID, "name": ACCOUNT}
    shops = {shop["shop_id"]: shop for shop in account["shops"]}
    assert sorted(shops) == [1, 2, 3]
    assert (shops[1]["location_id"], shops[1]["in_config"]) == ("0001", True)
    assert (shops[3]["location_id"], shops[3]["in_config"]) == ("0003", False)  # disabled
    assert all(shop["name"] and shop["time_zone"] for shop in shops.values())
    # The message after the redirect is shown once.
    assert (
        "Authenticated:"
        not in airflow_server.session("admin")
        .get(airflow_server.url + "/lightspeed/", timeout=HTTP_TIMEOUT)
        .text
    )


def test_a_callback_with_a_forged_state_fails_and_stores_nothing(
    airflow_server: AirflowServer, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    page = _login(airflow_server, tamper=True)

    assert "Login failed: The callback&#39;s state does not match" in page
    assert "Login to Lightspeed" in page
    assert _stored_tokens(warehouse_dsn) == []


def test_refusing_at_lightspeed_says_login_failed_and_what_to_do(
    airflow_server: AirflowServer, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    page = _login(airflow_server, decision="deny")

    assert "Login failed: The authorization was refused in the browser (access_denied)" in page
    assert "logged in as the account owner" in page
    assert _stored_tokens(warehouse_dsn) == []


def test_a_callback_this_browser_did_not_start_fails(
    airflow_server: AirflowServer, lightspeed_conn: str
) -> None:
    browser = airflow_server.session("admin")

    browser.get(
        airflow_server.url + "/lightspeed/callback?code=stolen&state=whatever",
        timeout=HTTP_TIMEOUT,
    )
    page = browser.get(airflow_server.url + "/lightspeed/", timeout=HTTP_TIMEOUT).text

    assert "Login failed: This browser has no Lightspeed login in progress" in page


def test_status_says_login_required_once_lightspeed_revoked_the_tokens(
    airflow_server: AirflowServer, lightspeed_conn: str, emulator: object
) -> None:
    _login(airflow_server)
    requests.post(
        emulator.url + "/_emulator/tokens/revoke",  # type: ignore[attr-defined]
        json={"access": True},
        timeout=HTTP_TIMEOUT,
    ).raise_for_status()

    status = _api(airflow_server).get(
        airflow_server.url + "/lightspeed/api/status", timeout=HTTP_TIMEOUT
    )

    [account] = status.json()["accounts"]
    assert account["state"] == "login_required"
    assert "lightspeed authorize" in account["message"]


# -- shops table and Run now -------------------------------------------------------------------


@pytest.fixture
def clean_runs(airflow_server: AirflowServer) -> Iterator[None]:
    """No chain DAG has runs and all are paused, before and after: the metadata DB is shared
    with other test areas (the e2e tests run the same DAGs with dag.test())."""
    _remove_runs_and_pause()
    yield
    _remove_runs_and_pause()


def _remove_runs_and_pause() -> None:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id.like("lightspeed_shop_%")))
        session.execute(
            update(DagModel).where(DagModel.dag_id.like("lightspeed_%")).values(is_paused=True)
        )


def test_the_shops_table_lists_the_enabled_shops_with_schedule_and_runs(
    airflow_server: AirflowServer, warehouse_dsn: str, clean_runs: None
) -> None:
    from lightspeed.dag_builder import cron_for

    answer = _api(airflow_server, "viewer").get(
        airflow_server.url + "/lightspeed/api/shops", timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["warnings"] == []
    rows = {row["location_id"]: row for row in body["shops"]}
    assert list(rows) == ["0001", "0002", "LDN1"]  # shop 3 is disabled
    first = rows["0001"]
    assert (first["shop_id"], first["name"], first["time_zone"]) == (
        1,
        "Boston Downtown",
        "US/Eastern",
    )
    assert (first["sensor"], first["interval_minutes"]) == ("pearl", 60)
    assert first["schedule"] == f"{cron_for('0001', 60)} (UTC)"
    assert rows["0002"]["schedule"] == f"{cron_for('0002', 15)} (UTC)"
    assert first["dag_id"] == DAG_0001
    assert first["dag"]["is_paused"] is True
    assert first["dag"]["next_run"] is None  # paused: nothing is scheduled
    assert first["dag"]["last_run"] is None
    assert first["records"] is None


def test_run_now_triggers_the_dag_with_its_params_as_the_user(
    airflow_server: AirflowServer, warehouse_dsn: str, clean_runs: None
) -> None:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    api = _api(airflow_server, "op")
    answer = api.post(
        airflow_server.url + "/lightspeed/api/shops/0001/run",
        json={"days_back": 2},
        timeout=HTTP_TIMEOUT,
    )

    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert started["dag_id"] == DAG_0001
    assert started["unpaused"] is True
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.run_id == started["dag_run_id"]))
        assert run is not None
        assert run.dag_id == DAG_0001
        assert run.conf == {"days_back": 2}
        assert run.run_type == "manual"
        assert run.triggering_user_name == "op"
        assert session.get(DagModel, DAG_0001).is_paused is False
    # The table shows the run, and next to it what the run wrote to the warehouse.
    with psycopg2.connect(warehouse_dsn) as pg, pg.cursor() as cur:
        cur.executemany(
            "INSERT INTO lightspeed_staging.load_log (run_id, account_id, entity, shop_id, "
            "fetched, upserted, deleted, quarantined) VALUES (%s, %s, %s, 1, %s, %s, 0, %s)",
            [
                (f"{DAG_0001}/{started['dag_run_id']}", ACCOUNT_ID, "Sale", 120, 118, 2),
                (f"{DAG_0001}/{started['dag_run_id']}", ACCOUNT_ID, "EmployeeHours", 9, 9, 0),
                (f"{DAG_0001}/an-older-run", ACCOUNT_ID, "Sale", 500, 500, 0),
            ],
        )
    rows = {
        row["location_id"]: row
        for row in api.get(
            airflow_server.url + "/lightspeed/api/shops", timeout=HTTP_TIMEOUT
        ).json()["shops"]
    }
    last = rows["0001"]["dag"]["last_run"]
    assert (last["run_id"], last["state"]) == (started["dag_run_id"], "queued")
    assert rows["0001"]["dag"]["next_run"] is not None  # unpaused: scheduled again
    assert rows["0001"]["records"]["upserted"] == 127
    assert rows["0001"]["records"]["quarantined"] == 2
    assert rows["0001"]["records"]["entities"] == {"Sale": 118, "EmployeeHours": 9}
    fragment = api.get(airflow_server.url + "/lightspeed/fragment/shops", timeout=HTTP_TIMEOUT)
    assert 'data-state="queued"' in fragment.text
    assert ">127<" in fragment.text


@pytest.mark.parametrize(
    ("location", "body", "status"),
    [
        ("0001", {"days_back": -1}, 422),
        ("0001", {"days_back": 366}, 422),
        ("0003", {"days_back": 0}, 404),  # disabled shop: no DAG
        ("9999", {"days_back": 0}, 404),
    ],
)
def test_run_now_refuses_bad_requests(
    airflow_server: AirflowServer, location: str, body: dict, status: int
) -> None:
    answer = _api(airflow_server).post(
        airflow_server.url + f"/lightspeed/api/shops/{location}/run",
        json=body,
        timeout=HTTP_TIMEOUT,
    )

    assert answer.status_code == status


# -- dashboard --------------------------------------------------------------------------------


def _seed_day(dsn: str) -> None:
    """Three hourly buckets of location 0001 on 2026-03-03 (Boston, UTC-5)."""
    with psycopg2.connect(dsn) as pg, pg.cursor() as cur:
        cur.execute(
            "INSERT INTO lightspeed_agg.location (location_id, account_id, shop_id, time_zone, "
            "interval_minutes, label) VALUES ('0001', %s, 1, 'US/Eastern', 60, 'Boston Downtown')",
            (ACCOUNT_ID,),
        )
        for hour, sales, transactions, items, staff_seconds in [
            (10, "100.00", 2, 3, 3600),
            (11, "50.50", 1, 1, 3600),
            (12, "0", 0, 0, 1800),
        ]:
            cur.execute(
                "INSERT INTO lightspeed_agg.interval_metrics (location_id, interval_minutes, "
                "local_start, local_date, utc_start, utc_ranges, in_opening_hours, sales, "
                "transactions, items, staff_seconds) VALUES ('0001', 60, "
                "%(local)s, DATE '2026-03-03', %(utc)s, "
                "tstzmultirange(tstzrange(%(utc)s, %(utc)s::timestamptz + interval '1 hour')), true, "
                "%(sales)s, %(tx)s, %(items)s, %(staff)s)",
                {
                    "local": f"2026-03-03 {hour:02d}:00",
                    "utc": f"2026-03-03 {hour + 5:02d}:00+00",
                    "sales": sales,
                    "tx": transactions,
                    "items": items,
                    "staff": staff_seconds,
                },
            )


def test_the_dashboard_shows_a_location_day_as_charts_with_its_totaling(
    airflow_server: AirflowServer, warehouse_dsn: str
) -> None:
    _seed_day(warehouse_dsn)
    browser = airflow_server.session("viewer")

    page = browser.get(
        airflow_server.url + "/lightspeed/dashboard?location=0001&day=2026-03-03",
        timeout=HTTP_TIMEOUT,
    )
    empty = browser.get(
        airflow_server.url + "/lightspeed/dashboard?location=0001&day=2026-03-02",
        timeout=HTTP_TIMEOUT,
    )
    latest = browser.get(airflow_server.url + "/lightspeed/dashboard", timeout=HTTP_TIMEOUT)

    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 4  # sales, transactions, items, staff hours
    for title in ("Sales", "Transactions", "Items", "Staff hours"):
        assert f'aria-label="{title}"' in html
    assert "150.50" in html  # the day's sales, Totaling figures beside the charts
    assert "50.17" in html  # ATV = 150.50 / 3
    assert "Tue 2026-03-03" in html
    assert "No buckets for this day" in empty.text
    assert "Tue 2026-03-03" in latest.text  # no day given: the latest day with data


def test_the_dashboard_of_an_unknown_location_is_not_found(
    airflow_server: AirflowServer, warehouse_dsn: str
) -> None:
    answer = airflow_server.session("viewer").get(
        airflow_server.url + "/lightspeed/dashboard?location=nope", timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 404
    assert "Unknown location" in answer.text


# -- registration -----------------------------------------------------------------------------


def test_the_plugin_adds_a_nav_view_and_mounts_its_app(airflow_server: AirflowServer) -> None:
    plugins = (
        _api(airflow_server)
        .get(airflow_server.url + "/api/v2/plugins", timeout=HTTP_TIMEOUT)
        .json()["plugins"]
    )

    [plugin] = [p for p in plugins if p["name"] == "lightspeed_ui"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/lightspeed"
    [view] = plugin["external_views"]
    assert (view["name"], view["href"], view["url_route"], view["destination"]) == (
        "Lightspeed",
        "/lightspeed/",
        "lightspeed",
        "nav",
    )
