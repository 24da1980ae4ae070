"""The client secret, the authorization codes and every access and refresh token never appear
in any log, task log, XCom, rendered template field, exception, CLI output or warehouse table.

One test drives a whole life cycle against the emulator: `lightspeed authorize -v` (debug
logging on), a shop DAG run with `dag.test()` that has to refresh its token, a run that fails
because the authorization was revoked, `lightspeed authorize` again, `lightspeed shops` and
the reports. Everything the run left behind is then searched for every secret the emulator
handed out: all log records (DEBUG and up, tracebacks included), everything written to the
process's stdout/stderr, every file under AIRFLOW_HOME (task logs, the metadata DB holding
XCom and rendered fields), the XCom and rendered-field rows themselves, every text in the
warehouse, the emulator's stats, and the reprs of the objects holding the secrets.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback
import uuid
import webbrowser
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
import yaml

from lightspeed.authorize import drive_login_form
from lightspeed.cli import main as lightspeed_cli
from lightspeed.connection import load_connection
from lightspeed.errors import ReauthorizeRequired
from lightspeed.hook import LightspeedHook
from lightspeed.token_store import TokenStore
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
PINNED_NOW = datetime(2026, 3, 4, 15, 7, tzinfo=UTC)
CHAIN = {
    "connection": "lightspeed_default",
    "warehouse": "lightspeed_warehouse",
    "defaults": {"initial_days": 1, "retries": 0},
    "shops": [{"shop_id": 1, "sensor": "pearl", "time_zone": "US/Eastern"}],
}


class Secrets:
    """Every secret the emulator saw or handed out, recorded by wrapping its token endpoint."""

    def __init__(self, client_secret: str) -> None:
        self.client_secret = client_secret
        self.codes: set[str] = set()
        self.access: set[str] = set()
        self.refresh: set[str] = set()

    def spy_on(self, emulator: EmulatorServer) -> None:
        real_token = emulator.oauth.token

        def token(fields: Any, basic: Any = None) -> dict[str, Any]:
            for key, bucket in (("code", self.codes), ("refresh_token", self.refresh)):
                if fields.get(key):
                    bucket.add(fields[key])
            body = real_token(fields, basic)
            self.access.add(body["access_token"])
            self.refresh.add(body["refresh_token"])
            return body

        emulator.oauth.token = token  # type: ignore[method-assign]

    def needles(self) -> dict[str, str]:
        """What to search for: each secret whole, and a distinctive piece of it (a log that
        cuts a token short still leaks it)."""
        found = {"client secret": self.client_secret}
        for label, values in (("code", self.codes), ("refresh token", self.refresh)):
            for value in values:
                found[f"{label} {value[:6]}"] = value
                found[f"{label} {value[:6]} (middle)"] = value[8:40]
        for value in self.access:
            signature = value.rsplit(".", 1)[-1]
            found[f"access token {signature[:6]}"] = value
            found[f"access token {signature[:6]} (signature)"] = signature[:32]
        return found


class Capture(logging.Handler):
    """Every log record of the process, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a record that cannot format is still evidence
            self.lines.append(f"{record.name} unformattable {record.msg!r} {record.args!r} {exc}")


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils import db

    db.initdb()


def _scripted_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """`webbrowser.open` logs in as the owner and clicks Authorize, as a person would."""

    def browser(url: str, *args: object, **kwargs: object) -> bool:
        threading.Thread(target=drive_login_form, args=(url, "owner", "owner"), daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)


def _dag(name: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "lightspeed_shops.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def _metadata_rows(dag_id: str) -> list[str]:
    """XCom values and rendered template fields the runs stored, as text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        xcoms = session.scalars(select(XComModel).where(XComModel.dag_id == dag_id)).all()
        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.dag_id == dag_id)
        ).all()
        texts = [f"xcom {x.task_id} {x.key} {x.value!r}" for x in xcoms]
        texts += [
            f"rendered {r.task_id} {r.rendered_fields!r} {r.k8s_pod_yaml!r}" for r in rendered
        ]
    assert any(text.startswith("xcom import_sales") for text in texts), "no XCom to search"
    return texts


def _warehouse_texts(dsn: str) -> list[str]:
    """Every row of every table of the warehouse's lightspeed_* schemas, as text."""
    texts = []
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema LIKE 'lightspeed%%' AND table_type = 'BASE TABLE'"
        )
        for schema, table in cur.fetchall():
            cur.execute(f'SELECT t::text FROM "{schema}"."{table}" t')
            texts += [f"{schema}.{table} {row[0]}" for row in cur.fetchall()]
    conn.close()
    assert any(text.startswith("lightspeed_auth.token_set") for text in texts)
    return texts


def _files_under(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.stat().st_size < 50_000_000:
            texts.append(f"{path} " + path.read_bytes().decode("latin-1"))
    return texts


def test_no_secret_in_any_output_of_a_full_life_cycle(
    airflow_db: None,
    warehouse_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    capture: Capture,
) -> None:
    secrets = Secrets(f"cs-{uuid.uuid4().hex}{uuid.uuid4().hex}")
    config = EmulatorConfig(
        seed=42, shops=3, days=3, now=PINNED_NOW, clock_speed=0, control=True,
        client_secret=secrets.client_secret, bucket_size=5000.0, drip_rate=1000.0,
    )  # fmt: skip
    chain = tmp_path / "shops.yaml"
    chain.write_text(yaml.safe_dump(CHAIN))
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(chain))
    outputs: list[str] = []

    with EmulatorServer(config) as emulator:
        secrets.spy_on(emulator)
        monkeypatch.setenv(
            "AIRFLOW_CONN_LIGHTSPEED_DEFAULT",
            json.dumps(
                {
                    "conn_type": "lightspeed",
                    "login": config.client_id,
                    "password": secrets.client_secret,
                    "host": emulator.url,
                    "extra": {"oauth_base_url": emulator.url, "redirect_uri": "http://127.0.0.1:0/callback"},
                }
            ),
        )  # fmt: skip
        _scripted_browser(monkeypatch)
        authorize = ["-v", "authorize", "--port", "0", "--timeout", "30"]
        assert lightspeed_cli(authorize) == 0

        # A run that has to refresh its (expired) access token on the way.
        emulator.oauth.expire_access_tokens()
        run = _dag("lightspeed_shop_0001").test(run_conf={"days_back": 1})
        assert str(run.state) == "success"
        assert emulator.stats.snapshot()["refreshes"] >= 1

        # A run that fails: the authorization was revoked.
        emulator.oauth.revoke_refresh_tokens(with_access=True)
        failed = _dag("lightspeed_shop_0001").test()
        assert str(failed.state) == "failed"
        hook = LightspeedHook(allow_metadata_db=False)
        with pytest.raises(ReauthorizeRequired) as caught:
            hook.get_account()
        outputs += [str(caught.value), repr(caught.value)]
        outputs += traceback.format_exception(caught.value)

        # Log in again, then the everyday commands.
        assert lightspeed_cli(authorize) == 0
        assert lightspeed_cli(["shops", "--output", str(tmp_path / "written.yaml")]) == 0
        day = PINNED_NOW.date().isoformat()
        for report in (["totaling"], ["export", "--output", str(tmp_path / "export.csv")]):
            assert lightspeed_cli(["report", *report, "--from", day, "--to", day]) == 0
        outputs.append((tmp_path / "export.csv").read_text())
        outputs.append(requests.get(f"{emulator.url}/_emulator/stats", timeout=10).text)

        conn = load_connection()
        tokens = TokenStore.for_connection(conn).load()
        assert tokens is not None and tokens.access_token in secrets.access
        outputs += [repr(conn), str(conn), repr(tokens), str(tokens)]

    streams = capfd.readouterr()
    outputs += [streams.out, streams.err]
    assert "Authenticated: account" in streams.out
    assert any(line.startswith("lightspeed.") for line in capture.lines), "no log was captured"
    outputs += capture.lines
    outputs += _metadata_rows("lightspeed_shop_0001")
    outputs += _warehouse_texts(warehouse_dsn)
    outputs += _files_under(Path(os.environ["AIRFLOW_HOME"]))

    everything = "\n".join(outputs)
    # The search covered the task logs of both runs, the refresh and the failure.
    assert "Imported SALES (shop 1)" in everything
    assert "Run `lightspeed authorize --conn-id lightspeed_default`" in everything
    assert "oauth/token" in everything
    assert len(secrets.codes) == 2 and len(secrets.access) >= 3 and len(secrets.refresh) >= 3
    leaks = [
        f"{label} in: {text[max(0, text.find(needle) - 80) : text.find(needle) + 20]!r}"
        for label, needle in secrets.needles().items()
        for text in outputs
        if needle in text
    ]
    assert leaks == []
