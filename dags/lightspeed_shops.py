"""One Airflow DAG per Lightspeed shop, plus one per Lightspeed account, from the chain config.

Thin on purpose: the config (LIGHTSPEED_SHOPS_CONFIG, default include/shops.yaml beside this
folder) is validated by lightspeed.config and the DAGs are built by lightspeed.dag_builder.
A broken config raises here, so it shows as an import error of this file (other DAG files
keep working) instead of shops silently disappearing. No network, database or Variable
access at parse time.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import get_parsing_context

from lightspeed.config import default_config_path, load_config
from lightspeed.dag_builder import iter_dag_factories

# When a worker runs a task it needs only that task's DAG: skip building the others.
_only_dag_id = get_parsing_context().dag_id
_config = load_config(default_config_path(Path(__file__).resolve().parents[1]))

for _dag_id, _build in iter_dag_factories(_config):
    if _only_dag_id is None or _only_dag_id == _dag_id:
        globals()[_dag_id] = _build()
