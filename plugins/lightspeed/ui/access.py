"""Airflow's own authentication and permissions for the plugin's routes.

Airflow mounts a plugin's FastAPI app as is: nothing protects its routes unless they ask.
Every route here depends on `api_user` or `page_user`, which resolve the user exactly as
Airflow's REST API does (`Authorization: Bearer` first, else the UI's `_token` cookie,
validated by the configured auth manager). An API call without a valid token gets 401; a
page request is sent to Airflow's login page and comes back afterwards.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

TOKEN_COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN

_bearer = HTTPBearer(auto_error=False)


class LoginRequired(Exception):
    """A page was asked for without a valid Airflow login; the app redirects to login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


async def api_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """The Airflow user of a JSON request; 401 without a valid token (as /api/v2 does)."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        # Airflow answers 403 for a malformed token; for this API both mean "log in again".
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, exc.detail) from None


async def page_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """The Airflow user of a page request; without one, a redirect to Airflow's login page."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException:
        raise LoginRequired(_path_and_query(request)) from None


def login_url(next_url: str) -> str:
    """Airflow's login page (whatever the auth manager), returning to `next_url` afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def user_token(request: Request) -> str | None:
    """The caller's Airflow JWT, to call Airflow's REST API as this same user."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE)


def user_name(user: Any) -> str:
    return str(user.get_name())


def readable_dag_ids(user: Any) -> set[str]:
    """DAG ids the user may read: the shops table and dashboards show only those."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


def may_read_dag(user: Any, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return get_auth_manager().is_authorized_dag(
        method="GET", user=user, details=DagDetails(id=dag_id)
    )


def may_edit_connection(user: Any, conn_id: str) -> bool:
    """Logging in to Lightspeed replaces the connection's tokens: an edit of the connection."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return get_auth_manager().is_authorized_connection(
        method="PUT", user=user, details=ConnectionDetails(conn_id=conn_id)
    )


def _path_and_query(request: Request) -> str:
    # Relative (the mount prefix is part of the path), so Airflow's login page accepts it as
    # a safe `next` target.
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")
