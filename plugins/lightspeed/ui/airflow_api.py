"""Airflow's public REST API, called with the user's own token.

"Run now" goes through `POST /api/v2/dags/{dag_id}/dagRuns` rather than creating the run in
the database, so Airflow applies the user's permissions, validates the DAG's Params, writes
its audit log and names the user as the one who triggered the run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from lightspeed.errors import LightspeedError

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class RunNowError(LightspeedError):
    """Airflow refused to start the run; the message says why and what to do."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AirflowAPI:
    """The two calls "Run now" needs, as the user whose token is given.

    Args:
        base_url: Airflow's API server, e.g. `http://127.0.0.1:8080` (no trailing slash).
        token: the user's Airflow JWT (never logged).
        client: an httpx client (tests may pass one); default: a new one per instance.
    """

    def __init__(self, base_url: str, token: str, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = client or httpx.Client(timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}", dag_id)

    def unpause(self, dag_id: str) -> None:
        self._call(
            "PATCH",
            f"/api/v2/dags/{quote(dag_id, safe='')}",
            dag_id,
            json={"is_paused": False},
            params={"update_mask": "is_paused"},
        )

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> dict[str, Any]:
        """A manual run now (`logical_date` null: Airflow 3 requires the key)."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        return self._call(
            "POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", dag_id, json=body
        )

    def _call(self, method: str, path: str, dag_id: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=DEFAULT_TIMEOUT,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise RunNowError(
                f"Could not reach Airflow's API at {self.base_url} ({type(exc).__name__}). "
                "Set [api] base_url to an address the API server can reach itself on.",
                502,
            ) from None
        if response.status_code >= 400:
            raise RunNowError(_explain(response, dag_id), response.status_code)
        return response.json() if response.content else {}


def _explain(response: httpx.Response, dag_id: str) -> str:
    detail = _detail(response)
    status = response.status_code
    if status in (401, 403):
        return (
            f"Airflow refused: you may not run or unpause DAG {dag_id} ({detail}). "
            "Ask an Airflow admin for the permission to trigger it."
        )
    if status == 404:
        return (
            f"Airflow does not know DAG {dag_id} yet ({detail}): wait for the dag-processor to "
            "parse dags/lightspeed_shops.py, and check its import errors in the Airflow UI."
        )
    if status == 409:
        return f"A run of {dag_id} with this id exists already ({detail}); try again."
    return f"Airflow answered {status} for DAG {dag_id}: {detail}"


def _detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = payload.get("detail") if isinstance(payload, dict) else payload
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)[:300]
