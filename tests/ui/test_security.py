"""The plugin's routes sit behind Airflow's own login and permissions.

Airflow mounts plugin apps without any protection: each route must check the user itself.
These tests call every route without a token, with a forged one and as users of different
roles, over real HTTP to Airflow's real API server app.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from conftest import HTTP_TIMEOUT, AirflowServer

pytestmark = pytest.mark.timeout(180)

PAGES = ["/lightspeed/", "/lightspeed/login", "/lightspeed/callback?code=x&state=y",
         "/lightspeed/dashboard"]  # fmt: skip
JSON_GETS = ["/lightspeed/api/status", "/lightspeed/api/shops", "/lightspeed/fragment/shops"]
RUN_NOW = "/lightspeed/api/shops/0001/run"


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_an_anonymous_browser_to_airflow_login(
    airflow_server: AirflowServer, path: str
) -> None:
    answer = requests.get(airflow_server.url + path, allow_redirects=False, timeout=HTTP_TIMEOUT)

    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert target.path == "/auth/login"
    assert parse_qs(target.query)["next"] == [path]


@pytest.mark.parametrize("path", JSON_GETS)
def test_json_endpoints_refuse_anonymous_calls(airflow_server: AirflowServer, path: str) -> None:
    answer = requests.get(airflow_server.url + path, timeout=HTTP_TIMEOUT)

    assert answer.status_code == 401


def test_run_now_refuses_anonymous_calls(airflow_server: AirflowServer) -> None:
    answer = requests.post(
        airflow_server.url + RUN_NOW, json={"days_back": 0}, timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 401


def test_a_token_signed_with_another_key_is_refused(airflow_server: AirflowServer) -> None:
    real = jwt.decode(airflow_server.token("admin"), options={"verify_signature": False})
    forged = jwt.encode(real, "not-the-server-secret-" + "x" * 64, algorithm="HS512")

    api = requests.get(
        airflow_server.url + "/lightspeed/api/shops",
        headers={"Authorization": f"Bearer {forged}"},
        timeout=HTTP_TIMEOUT,
    )
    page = requests.get(
        airflow_server.url + "/lightspeed/",
        cookies={"_token": forged},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )

    assert api.status_code == 401
    assert page.status_code == 303


def test_static_assets_are_public_code_only(airflow_server: AirflowServer) -> None:
    answer = requests.get(
        airflow_server.url + "/lightspeed/static/lightspeed.js", timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 200
    assert "Run now" in answer.text


def test_a_logged_in_user_gets_the_page(airflow_server: AirflowServer) -> None:
    answer = airflow_server.session("viewer").get(
        airflow_server.url + "/lightspeed/", timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 200
    assert "Shops" in answer.text


def test_a_viewer_may_not_log_in_to_lightspeed(airflow_server: AirflowServer) -> None:
    """Logging in replaces the connection's tokens: it needs edit rights on the connection."""
    browser = airflow_server.session("viewer")

    page = browser.get(airflow_server.url + "/lightspeed/", timeout=HTTP_TIMEOUT)
    start = browser.get(
        airflow_server.url + "/lightspeed/login?conn_id=lightspeed_default",
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    # Back to Airflow's nav view, whose iframe shows the page with the message.
    back = browser.get(airflow_server.url + "/lightspeed/", timeout=HTTP_TIMEOUT)

    assert "Login to Lightspeed" not in page.text
    assert start.status_code == 303
    assert start.headers["location"] == "/plugin/lightspeed"  # not to Lightspeed
    assert "lightspeed_oauth" not in start.cookies
    assert "Login failed: you may not change connection lightspeed_default" in back.text


def test_login_does_not_redirect_off_site(airflow_server: AirflowServer) -> None:
    browser = airflow_server.session("viewer")

    start = browser.get(
        airflow_server.url + "/lightspeed/login?return_to=//evil.example/x",
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )

    assert start.headers["location"] == "/plugin/lightspeed"


def test_run_now_wants_json_so_a_cross_site_form_cannot_press_it(
    airflow_server: AirflowServer,
) -> None:
    browser = airflow_server.session("admin")

    answer = browser.post(
        airflow_server.url + RUN_NOW, data={"days_back": "0"}, timeout=HTTP_TIMEOUT
    )

    assert answer.status_code == 415


def test_a_viewer_may_not_run_a_dag(airflow_server: AirflowServer) -> None:
    """Run now calls Airflow's API with the user's own token: Airflow's permissions apply."""
    token = airflow_server.token("viewer")

    answer = requests.post(
        airflow_server.url + RUN_NOW,
        json={"days_back": 0},
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )

    assert answer.status_code == 403
    assert "may not run or unpause DAG lightspeed_shop_0001" in answer.json()["detail"]
