"""Parse time of the DAG file for generated chains of 10, 100 and 1,000 shops.

Airflow kills a file whose import takes longer than [core] dagbag_import_timeout (30 s by
default); a 1,000-shop chain must stay well under it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAGBAG_IMPORT_TIMEOUT = 30.0
ZONES = ("US/Eastern", "US/Pacific", "America/Phoenix", "Europe/London", "America/Toronto")


def _chain(shops: int) -> dict:
    return {
        "connection": "lightspeed_default",
        "shops": [
            {
                "shop_id": shop_id,
                "sensor": "3d_scope" if shop_id % 3 else "pearl",
                "time_zone": ZONES[shop_id % len(ZONES)],
                "label": f"Shop {shop_id}",
                **(
                    {"opening_hours": {"mon-sat": "09:00-21:00", "sun": "closed"}}
                    if shop_id % 2
                    else {}
                ),
            }
            for shop_id in range(1, shops + 1)
        ],
    }


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
