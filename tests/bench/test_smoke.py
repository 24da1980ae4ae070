"""The benchmarks run and write well-formed results (tiny sizes; no timing is asserted).

`make bench` takes minutes, so CI runs `python -m bench.run --smoke`: every benchmark
script end to end (the emulator over HTTP, PostgreSQL, Airflow's DagBag, dag-factory,
child processes) at sizes that finish in seconds, then checks that the figures the README
quotes are there, consistent with each other and made by the commands they name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("LIGHTSPEED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "LIGHTSPEED_PG_ADMIN_DSN": PG_ADMIN_DSN, "PYTHONPATH": str(REPO)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.run", "--smoke", "--jobs", "2", "--output", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results-smoke.json").read_text())
    results["_markdown"] = (out / "results-smoke.md").read_text()
    return results


def test_every_benchmark_ran(smoke: dict[str, Any]) -> None:
    assert smoke["mode"] == "smoke"
    assert set(smoke["benchmarks"]) == {"api", "load", "aggregates", "parse", "memory"}
    for name, data in smoke["benchmarks"].items():
        assert data["ok"], f"{name}: {data}"
        assert data["command"].startswith(".venv/bin/python -m bench."), data["command"]
        assert "--json" not in data["command"]
        # The Markdown quotes each figure with the command behind it.
        assert f"`{data['command']}`" in smoke["_markdown"]


def test_api_figures_add_up(smoke: dict[str, Any]) -> None:
    cases = smoke["benchmarks"]["api"]["cases"]
    assert set(cases) == {"small", "concurrent", "pool"}
    for case in cases.values():
        assert case["records"] > case["per_entity"]["item"] > 0  # sales, shifts, items, staff
        assert set(case["per_entity"]) == {"sale", "employee_hours", "item", "employee"}
        assert case["records"] == sum(case["per_entity"].values())
        assert case["requests"] >= len(case["per_entity"]), "at least one page per entity"
        assert case["requests_sent"] == case["requests"] + case["throttled_429"]
        # The benchmark's header count agrees with the emulator's own request counter.
        assert case["emulator_api_requests"] == case["requests_sent"]
        assert case["emulator_rate_limited"] == case["throttled_429"]
        assert case["cost"] >= case["requests"]  # every request costs at least one drip
        assert case["bucket_size"] == 90
        assert case["wall_s"] > 0
    assert cases["small"]["drip_rate"] == 1  # the real drip, read from the headers
    assert cases["concurrent"]["drip_rate"] == 50  # sped up, read from the headers
    assert cases["concurrent"]["processes"] == 3 == cases["pool"]["processes"]
    assert cases["pool"]["at_once"] == 2


def test_load_compares_the_same_rows(smoke: dict[str, Any]) -> None:
    passes = smoke["benchmarks"]["load"]["passes"]
    assert set(passes) == {"first_load", "reload_unchanged", "reload_edited"}
    first = passes["first_load"]
    assert first["product"]["sale_lines"] == 2000
    assert first["product"]["rows"] == first["insert_rows"]["rows"] == 2800
    assert first["product"]["changed"] == {"sale": 400, "sale_line": 2000, "sale_payment": 400}
    assert passes["reload_unchanged"]["product"]["changed"] == {
        "sale": 0,
        "sale_line": 0,
        "sale_payment": 0,
    }
    assert passes["reload_edited"]["product"]["changed"]["sale_line"] == 1000
    for result in passes.values():
        for method in ("insert_rows", "executemany"):
            if method in result:
                naive = result[method]
                assert naive["rows"] == result["product"]["rows"]
                assert naive["ratio"] == pytest.approx(
                    result["product"]["rows_per_s"] / naive["rows_per_s"], rel=0.01
                )


def test_aggregates_reconcile(smoke: dict[str, Any]) -> None:
    data = smoke["benchmarks"]["aggregates"]
    assert data["shops"] == 3
    assert data["check_aggregates_equal_staging"] is True
    assert set(data["rebuilds"]) == {"hour", "day", "week", "backfill"}
    assert all(r["buckets"] > 0 for r in data["rebuilds"].values())


def test_dag_factory_builds_the_same_dags(smoke: dict[str, Any]) -> None:
    (size,) = smoke["benchmarks"]["parse"]["sizes"]
    assert size["shops"] == 10
    assert size["same_shape"] is True, size["shape_diffs"]
    for way in ("ours", "dagfactory"):
        assert size[way]["import_errors"] == {}
        assert size[way]["dags"] == 11  # 10 shops + the account
        assert size[way]["tasks"] == 10 * 6 + 9


def test_memory_measured_per_size(smoke: dict[str, Any]) -> None:
    data = smoke["benchmarks"]["memory"]
    small, large = data["sizes"]
    assert 0 < small["sales"] < large["sales"]
    for row in (small, large):
        assert row["peak_rss_mib"] >= row["baseline_rss_mib"] > 0
        assert row["rows"] > row["sales"]  # lines and payments staged too


def test_shape_comparison_can_fail() -> None:
    """The 'same DAGs' verdict is a real comparison: a changed pool is reported."""
    sys.path.insert(0, str(REPO))
    try:
        from bench.dag_parse import compare
    finally:
        sys.path.remove(str(REPO))
    task = {"pool": "lightspeed_lightspeed_default", "downstream": ["check"]}
    ours = {"fingerprints": {"lightspeed_shop_0001": {"tasks": {"plan": task}}}}
    same = {"fingerprints": {"lightspeed_shop_0001": {"tasks": {"plan": dict(task)}}}}
    other = {
        "fingerprints": {
            "lightspeed_shop_0001": {"tasks": {"plan": {**task, "pool": "default_pool"}}},
            "lightspeed_shop_0002": {"tasks": {}},
        }
    }
    assert compare(ours, same) == []
    diffs = compare(ours, other)
    assert any("only in dag-factory" in diff for diff in diffs)
    assert any("lightspeed_shop_0001.tasks" in diff for diff in diffs)
