"""A bad config gives one clear message each, wherever it is met: in the DAG file (an import
error of that file), at task time (the task fails at once, no retries) and in the CLI
(`Error: ...`, exit 2, no traceback). tests/dags/test_config.py checks the messages of the
config loader itself; this adds the DAG file, the connections and the CLI."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from lightspeed import tasks
from lightspeed.cli import main as lightspeed_cli
from lightspeed.config import parse_config

REPO = Path(__file__).resolve().parents[2]
SHOP = {"shop_id": 1, "sensor": "pearl", "time_zone": "US/Eastern"}


@pytest.mark.parametrize(
    ("shops", "message"),
    [
        (
            [{**SHOP, "sensor": "3d-scope"}],
            "shops[0] (shop_id 1): unknown sensor '3d-scope'. Use one of: pearl, 3d_scope.",
        ),
        (
            [{**SHOP, "location_id": "0007"}],
            "shops[0] (shop_id 1): location ID '0007' does not match the shop ID (expected '0001')",
        ),
        ([SHOP, SHOP], "shops[1] (shop_id 1): duplicate shop: shop_id 1 is already shops[0]."),
        (
            [{**SHOP, "time_zone": "US/Atlantis"}],
            "shops[0] (shop_id 1): unknown time zone 'US/Atlantis'. Use an IANA name",
        ),
    ],
    ids=["unknown-sensor", "location-mismatch", "duplicate-shop", "unknown-time-zone"],
)
def test_config_mistake_is_one_import_error_of_the_dag_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shops: list, message: str
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(REPO / "dags" / "lightspeed_shops.py", folder / "lightspeed_shops.py")
    config = tmp_path / "shops.yaml"
    config.write_text(yaml.safe_dump({"shops": shops}))
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(config))

    bag = DagBag(dag_folder=str(folder))

    assert bag.dag_ids == []
    (error,) = bag.import_errors.values()
    # The UI shows the traceback Airflow records; its last line is our one message.
    last = error.strip().splitlines()[-1]
    assert last.startswith("lightspeed.errors.ConfigError: ") or last.startswith("ConfigError: ")
    assert message in last and str(config) in last


def _target(conn_id: str, warehouse: str) -> tasks.ShopTarget:
    config = parse_config({"connection": conn_id, "shops": [SHOP]})
    return tasks.ShopTarget(conn_id, warehouse, config.accounts[0].shops[0], config.defaults)


def _facts() -> tasks.RunFacts:
    run = SimpleNamespace(run_type="manual", run_id="manual__bad_config", dag_id="d")
    return tasks.run_facts({"dag_run": run, "params": {}}, 60)


def test_missing_lightspeed_connection_fails_the_task_at_once(warehouse_dsn: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as caught:
        tasks.plan_shop(_target("ls_nowhere", warehouse_dsn), _facts())
    assert str(caught.value).startswith(
        "Airflow connection 'ls_nowhere' was not found. Create it with `airflow connections add "
        "ls_nowhere --conn-type lightspeed"
    )


def test_missing_warehouse_connection_fails_the_task_at_once() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as caught:
        tasks.ensure_schema("wh_nowhere")
    assert "Airflow connection 'wh_nowhere' (the PostgreSQL warehouse) was not found" in str(
        caught.value
    )


def test_connection_without_client_secret_says_so(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv(
        "AIRFLOW_CONN_LS_HALF",
        json.dumps({"conn_type": "lightspeed", "login": "client", "host": "http://127.0.0.1:9"}),
    )
    with pytest.raises(AirflowFailException) as caught:
        tasks.plan_shop(_target("ls_half", warehouse_dsn), _facts())
    assert "has no OAuth client ID (login) or secret (password)" in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["authorize", "--conn-id", "ls_nowhere", "--no-browser", "--timeout", "1"],
            "Error: Airflow connection 'ls_nowhere' was not found. Create it with",
        ),
        (
            ["shops", "--conn-id", "ls_nowhere", "--output", "{tmp}/shops.yaml"],
            "Error: Airflow connection 'ls_nowhere' was not found. Create it with",
        ),
        (
            ["report", "totaling", "--warehouse", "wh_nowhere", "--from", "2026-03-01",
             "--to", "2026-03-02"],
            "Error: Airflow connection 'wh_nowhere' (the PostgreSQL warehouse) was not found.",
        ),
        (
            ["report", "export", "--warehouse", "postgresql://postgres@127.0.0.1:{port}/x",
             "--from", "2026-03-01", "--to", "2026-03-02"],
            "Error: cannot use the PostgreSQL warehouse (connection to server at",
        ),
        (
            ["traffic", "load", "{tmp}/counter.csv", "--warehouse", "wh_nowhere"],
            "Error: Airflow connection 'wh_nowhere' (the PostgreSQL warehouse) was not found.",
        ),
        (
            ["migrate", "--warehouse", "postgresql://postgres@127.0.0.1:{port}/x"],
            "Error: cannot use the PostgreSQL warehouse (connection to server at",
        ),
    ],
    ids=["authorize", "shops", "report-missing", "report-unreachable", "traffic", "migrate"],
)  # fmt: skip
def test_cli_names_the_missing_connection_without_a_traceback(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [arg.format(tmp=tmp_path, port=port) for arg in argv]
    assert lightspeed_cli(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message), captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
