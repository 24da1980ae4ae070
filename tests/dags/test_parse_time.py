"""Parse time of the DAG file for generated chains of 10, 100 and 1,000 shops.

Airflow kills a file whose import takes longer than [core] dagbag_import_timeout (30 s by
default); a 1,000-shop chain must stay well under it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAGBAG_IMPORT_TIMEOUT = 30.0


def _chain(shops: int) -> dict:
    """The benchmark's generated chain (bench.dag_parse), so the test parses what it measures."""
    sys.path.insert(0, str(REPO))
    try:
        from bench.dag_parse import chain
    finally:
        sys.path.remove(str(REPO))
    return chain(shops)


@pytest.mark.parametrize(("shops", "budget"), [(10, 2.0), (100, 4.0), (1000, 15.0)])
def test_parse_time(
    shops: int, budget: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    config = tmp_path / "shops.yaml"
    config.write_text(yaml.safe_dump(_chain(shops)))
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(config))

    started, cpu_started = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=str(REPO / "dags" / "lightspeed_shops.py"))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    assert bag.import_errors == {}
    assert len(bag.dags) == shops + 1
    print(
        f"\nparse {shops} shops: {elapsed:.2f} s wall, {cpu:.2f} s CPU "
        f"(dagbag_import_timeout {DAGBAG_IMPORT_TIMEOUT:.0f} s)"
    )
    # CPU time: parsing is single-threaded work, and wall time on a shared CI machine
    # mostly measures the neighbours.
    assert cpu < budget <= DAGBAG_IMPORT_TIMEOUT / 2
