"""The Lightspeed page: routes of the FastAPI app Airflow mounts under /lightspeed.

Pages (HTML, redirect to Airflow's login without a valid login):
    GET  /                 status of each Lightspeed account + the shops table
    GET  /login            starts the authorization-code flow (needs edit rights on the connection)
    GET  /callback         Lightspeed's redirect: stores the tokens, back to the page with a message
    GET  /dashboard        one location and day: charts by interval + the Totaling figures
JSON (401 without a valid Airflow token):
    GET  /api/status       per account: authenticated or not, account, shops (asks the API live)
    GET  /api/shops        the shops table as data
    POST /api/shops/{location_id}/run   "Run now": triggers the shop DAG through Airflow's API
    GET  /fragment/shops   the table body, re-rendered while runs progress

Blocking work (database, HTTP) lives in plain `def` routes, which FastAPI runs in its thread
pool, so the API server's event loop never waits on Lightspeed or PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from lightspeed.errors import LightspeedError, ReauthorizeRequired
from lightspeed.ui import access

log = logging.getLogger(__name__)

URL_PREFIX = "/lightspeed"
FLASH_COOKIE = "lightspeed_flash"
_HERE = Path(__file__).resolve().parent
_DEFAULT_RETURN = "/plugin/lightspeed"  # the nav view Airflow's UI shows this page in
# Page-time calls to Lightspeed must answer fast: few attempts, short timeouts, and the user
# sees an error instead of a request that hangs on Retry-After.
UI_HOOK_OPTIONS: dict[str, Any] = {"timeout": (5.0, 20.0)}

_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter()


def _session_dependency() -> Iterator[Any]:
    """A metadata-DB session of the API server, as Airflow's own routes get one."""
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        yield session


_Session = Annotated[Any, Depends(_session_dependency)]
PageUser = Annotated[Any, Depends(access.page_user)]
ApiUser = Annotated[Any, Depends(access.api_user)]


def create_app() -> FastAPI:
    """The app Airflow mounts (plugins/lightspeed_ui.py); no I/O until a request comes."""
    app = FastAPI(title="Lightspeed", docs_url=None, redoc_url=None, openapi_url=None)
    # Static files are the page's own CSS/JS/icon: public code, no data, no auth needed.
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.add_exception_handler(access.LoginRequired, _to_login)
    app.include_router(router)
    return app


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, access.LoginRequired)
    return RedirectResponse(access.login_url(exc.next_url), status.HTTP_303_SEE_OTHER)


# -- settings read from Airflow -----------------------------------------------------------------


def _prefix(request: Request) -> str:
    """Where this app is mounted, API root path included (e.g. `/lightspeed`)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _airflow_root(request: Request) -> str:
    """The Airflow UI's root path, for links to DAGs and runs."""
    return _prefix(request).removesuffix(URL_PREFIX)


def _airflow_base_url(request: Request) -> str:
    """Where this API server answers: `[api] base_url` when set, else the address used now."""
    from airflow.configuration import conf

    configured = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    if urlsplit(configured).scheme in {"http", "https"}:
        return configured
    return f"{request.url.scheme}://{request.url.netloc}{_airflow_root(request)}"


def _secret_key() -> str:
    from airflow.configuration import conf

    key = conf.get("api", "secret_key", fallback="") or ""
    if not key:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "Set [api] secret_key (AIRFLOW__API__SECRET_KEY), the same on every API server: "
            "the Lightspeed login signs its state cookie with it.",
        )
    return key


def _chain() -> Any:
    """The chain config, found as dags/lightspeed_shops.py finds it."""
    from airflow.configuration import conf

    from lightspeed.config import default_config_path, load_config

    dags_folder = conf.get("core", "dags_folder", fallback="") or None
    return load_config(default_config_path(Path(dags_folder).parent if dags_folder else None))


def _connection(conn_id: str) -> Any:
    from lightspeed.connection import load_connection

    # The API server has metadata-DB access: connections made in the UI are found too.
    return load_connection(conn_id, allow_metadata_db=True)


def _safe_return(target: str | None, request: Request) -> str:
    """Only paths on this server: the login must not become an open redirect."""
    default = _airflow_root(request) + _DEFAULT_RETURN
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# -- flash message (one message carried across the redirect after the callback) ----------------


@dataclass(frozen=True)
class Flash:
    ok: bool
    text: str


def _set_flash(response: Response, request: Request, flash: Flash) -> None:
    from lightspeed.ui.oauth_flow import signer

    value = signer(_secret_key()).dumps({"ok": flash.ok, "text": flash.text})
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=300,
        path=_prefix(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _pop_flash(request: Request) -> Flash | None:
    from itsdangerous import BadSignature

    from lightspeed.ui.oauth_flow import signer

    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = signer(_secret_key()).loads(raw, max_age=300)
    except BadSignature:
        return None
    return Flash(bool(data.get("ok")), str(data.get("text", "")))


# -- pages ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(request: Request, user: PageUser, session: _Session) -> Response:
    accounts, config_error = [], None
    rows, warnings = [], []
    try:
        config = _chain()
    except LightspeedError as exc:
        config_error = str(exc)
    else:
        accounts = [
            {"conn_id": a.conn_id, "may_login": access.may_edit_connection(user, a.conn_id)}
            for a in config.accounts
        ]
        rows, warnings = _table(config, user, session)
    flash = _pop_flash(request)
    body = _render(
        "index.html",
        request,
        user=access.user_name(user),
        flash=flash,
        config_error=config_error,
        accounts=accounts,
        rows=rows,
        warnings=warnings,
    )
    response = HTMLResponse(body)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=_prefix(request) or "/")
    return response


@router.get("/login")
def login(
    request: Request,
    user: PageUser,
    conn_id: str = "lightspeed_default",
    return_to: str | None = None,
) -> Response:
    """Send the browser to Lightspeed's login, remembering (signed, in a cookie) what to expect."""
    from lightspeed.ui.oauth_flow import STATE_COOKIE, STATE_MAX_AGE_S, signer, start_login

    back = _safe_return(return_to, request)
    if not access.may_edit_connection(user, conn_id):
        return _back_with(
            request,
            back,
            Flash(
                False,
                f"Login failed: you may not change connection {conn_id} in Airflow. Ask an "
                "Airflow admin (logging in to Lightspeed replaces the connection's tokens).",
            ),
        )
    try:
        conn = _connection(conn_id)
    except LightspeedError as exc:
        return _back_with(request, back, Flash(False, f"Login failed: {exc}"))
    url, cookie = start_login(
        conn,
        redirect_uri=_redirect_uri(request, conn.redirect_uri),
        user=access.user_name(user),
        return_to=back,
        sign=signer(_secret_key()),
    )
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        STATE_COOKIE,
        cookie,
        max_age=STATE_MAX_AGE_S,
        path=_prefix(request) or "/",
        httponly=True,
        samesite="lax",  # sent on Lightspeed's top-level redirect back to us
        secure=request.url.scheme == "https",
    )
    return response


def _redirect_uri(request: Request, configured: str) -> str:
    """The connection's redirect URI when it points at this page's callback (the HTTPS URI
    registered with Lightspeed), else this server's own callback URL."""
    if urlsplit(configured).path.rstrip("/").endswith(f"{URL_PREFIX}/callback"):
        return configured
    return f"{_airflow_base_url(request)}{URL_PREFIX}/callback"


@router.get("/callback")
def callback(request: Request, user: PageUser) -> Response:
    from lightspeed.ui.oauth_flow import STATE_COOKIE, finish_login, read_pending, signer

    back = _safe_return(None, request)
    try:
        pending = read_pending(request.cookies.get(STATE_COOKIE), signer(_secret_key()))
        back = _safe_return(pending.return_to, request)
        if not access.may_edit_connection(user, pending.conn_id):
            raise _Refused(f"you may not change connection {pending.conn_id} in Airflow.")
        conn = _connection(pending.conn_id)
        result = finish_login(
            dict(request.query_params),
            pending,
            conn,
            user=access.user_name(user),
            warehouse=conn.token_store_conn_id,
            prepare_store=_migrate,
            hook_options=UI_HOOK_OPTIONS,
        )
        flash = Flash(
            True,
            f"Authenticated: Lightspeed account {result.account_name} (ID {result.account_id}) "
            f"with {len(result.shops)} shop(s), connection {result.conn_id}.",
        )
    except (LightspeedError, _Refused) as exc:
        flash = Flash(False, f"Login failed: {exc}")
    except Exception as exc:  # the page must say something; the details go to the server log
        log.exception("Lightspeed login callback failed")
        flash = Flash(
            False,
            f"Login failed: {type(exc).__name__} (details in the Airflow API server log). "
            "Check that the warehouse and Lightspeed are reachable, then log in again.",
        )
    response = _back_with(request, back, flash)
    response.delete_cookie(STATE_COOKIE, path=_prefix(request) or "/")
    return response


class _Refused(Exception):
    pass


def _migrate(warehouse: str) -> None:
    """The token table must exist before the first login (migrations are idempotent)."""
    from lightspeed import db
    from lightspeed.migrate import migrate

    with closing(db.connect(warehouse)) as pg:
        migrate(pg)


def _back_with(request: Request, target: str, flash: Flash) -> Response:
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    _set_flash(response, request, flash)
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    user: PageUser,
    location: str | None = None,
    day: Annotated[date | None, Query()] = None,
) -> Response:
    try:
        config = _chain()
    except LightspeedError as exc:
        return HTMLResponse(_render("dashboard.html", request, error=str(exc), shops=[]))
    visible = access.readable_dag_ids(user)
    shops = [
        shop
        for account in config.accounts
        for shop in account.enabled_shops
        if shop.dag_id in visible
    ]
    if location is None:
        chosen = shops[0] if shops else None
    else:
        chosen = next((s for s in shops if s.location_id == location), None)
    if chosen is None:
        return HTMLResponse(
            _render(
                "dashboard.html",
                request,
                shops=shops,
                error=f"Unknown location {location!r}, or you may not read its DAG."
                if location
                else "No shop to show: the chain config has none you may read.",
            ),
            status_code=status.HTTP_404_NOT_FOUND if location else status.HTTP_200_OK,
        )
    day, panel, error = _dashboard_panel(config.warehouse_conn_id, chosen, day)
    return HTMLResponse(
        _render(
            "dashboard.html",
            request,
            shops=shops,
            shop=chosen,
            day=day,
            previous_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1),
            panel=panel,
            error=error,
        )
    )


def _dashboard_panel(
    warehouse: str, shop: Any, day: date | None
) -> tuple[date, str | None, str | None]:
    """(day, panel HTML, error). Without a day: the latest day with data, else today there."""
    from lightspeed import db
    from lightspeed.dashboard import render_location_day

    today = datetime.now(ZoneInfo(shop.time_zone)).date()
    try:
        with closing(db.connect(warehouse)) as pg:
            day = day or _latest_day(pg, shop.location_id) or today
            return day, render_location_day(pg, shop.location_id, day), None
    except LightspeedError as exc:
        return day or today, None, str(exc)
    except Exception as exc:  # psycopg2: warehouse down or not migrated
        log.warning("Dashboard of %s %s failed: %s", shop.location_id, day, exc)
        return (
            day or today,
            None,
            f"The warehouse {warehouse} could not be read ({type(exc).__name__}). Check the "
            "connection and run `lightspeed migrate`; details are in the API server log.",
        )


def _latest_day(pg: Any, location_id: str) -> date | None:
    with pg.cursor() as cur:
        cur.execute(
            "SELECT max(local_date) FROM lightspeed_agg.interval_metrics WHERE location_id = %s",
            (location_id,),
        )
        row = cur.fetchone()
    return row[0] if row else None


# -- JSON --------------------------------------------------------------------------------------


@router.get("/api/status")
def api_status(user: ApiUser, conn_id: str | None = None) -> dict[str, Any]:
    try:
        config = _chain()
    except LightspeedError as exc:
        return {"config_error": str(exc), "accounts": []}
    conn_ids = [a.conn_id for a in config.accounts]
    if conn_id is not None:
        if conn_id not in conn_ids:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"{conn_id} is not a connection of the chain config"
            )
        conn_ids = [conn_id]
    return {
        "config_error": None,
        "accounts": [_account_status(config, cid, user) for cid in conn_ids],
    }


def _account_status(config: Any, conn_id: str, user: Any) -> dict[str, Any]:
    """Ask Lightspeed, with the stored tokens, which account and shops they open."""
    from lightspeed.authorize import discover
    from lightspeed.token_store import TokenStore

    answer: dict[str, Any] = {
        "conn_id": conn_id,
        "may_login": access.may_edit_connection(user, conn_id),
        "account": None,
        "shops": [],
    }
    try:
        conn = _connection(conn_id)
        store = TokenStore.for_connection(conn, conn.token_store_conn_id)
        tokens = store.load()
        if tokens is None:
            return answer | {
                "state": "not_authenticated",
                "message": "Not logged in to Lightspeed yet: click “Login to Lightspeed”.",
            }
        result = discover(conn, store, tokens.scopes, UI_HOOK_OPTIONS)
    except ReauthorizeRequired as exc:
        return answer | {"state": "login_required", "message": f"Login required: {exc}"}
    except LightspeedError as exc:
        return answer | {"state": "error", "message": str(exc)}
    except Exception as exc:  # warehouse unreachable and the like: show it, log the details
        log.warning("Lightspeed status of %s failed: %s", conn_id, exc)
        return answer | {
            "state": "error",
            "message": f"Could not check the authorization ({type(exc).__name__}); details are "
            "in the API server log.",
        }
    configured = {s.shop_id: s for a in config.accounts if a.conn_id == conn_id for s in a.shops}
    return answer | {
        "state": "authenticated",
        "message": f"Authenticated: account {result.account_name} (ID {result.account_id}).",
        "account": {"id": result.account_id, "name": result.account_name},
        "scopes": list(result.scopes),
        "expires_at": tokens.expires_at.isoformat(),
        "shops": [
            {
                "shop_id": shop.shop_id,
                "name": shop.name,
                "time_zone": shop.time_zone,
                "location_id": configured[shop.shop_id].location_id
                if shop.shop_id in configured
                else None,
                "in_config": shop.shop_id in configured and configured[shop.shop_id].enabled,
            }
            for shop in result.shops
        ],
    }


@router.get("/api/shops")
def api_shops(user: ApiUser, session: _Session) -> dict[str, Any]:
    try:
        config = _chain()
    except LightspeedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    rows, warnings = _table(config, user, session)
    return {"shops": [row.to_json() for row in rows], "warnings": warnings}


@router.get("/fragment/shops", response_class=HTMLResponse)
def fragment_shops(request: Request, user: ApiUser, session: _Session) -> Response:
    try:
        config = _chain()
    except LightspeedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    rows, _ = _table(config, user, session)
    return HTMLResponse(_render("shop_rows.html", request, rows=rows))


class RunNowBody(BaseModel):
    days_back: int = Field(0, ge=0, le=365, description="0 = normal incremental run")


def _json_only(request: Request) -> None:
    """Only JSON, so a cross-site form cannot press the button with the user's cookie
    (a form cannot send application/json without a CORS preflight, which we never allow)."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Send JSON")


@router.post("/api/shops/{location_id}/run", dependencies=[Depends(_json_only)])
def run_now(location_id: str, body: RunNowBody, request: Request, user: ApiUser) -> JSONResponse:
    """Trigger the shop's DAG as the user, through Airflow's own REST API.

    A paused DAG is unpaused first, as Airflow's own trigger dialog does by default: a run
    of a paused DAG would sit queued forever.
    """
    from lightspeed.ui.airflow_api import AirflowAPI, RunNowError

    try:
        config = _chain()
    except LightspeedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    shop = next(
        (s for a in config.accounts for s in a.enabled_shops if s.location_id == location_id),
        None,
    )
    if shop is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"No enabled shop with location ID {location_id} in the chain config.",
        )
    token = access.user_token(request)
    if not token:  # authenticated through a trusted middleware without a token we can forward
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Log in to Airflow again.")
    api = AirflowAPI(_airflow_base_url(request), token)
    try:
        unpaused = bool(api.dag(shop.dag_id).get("is_paused"))
        if unpaused:
            api.unpause(shop.dag_id)
        run = api.trigger(
            shop.dag_id,
            {"days_back": body.days_back},
            note=f"Run now from the Lightspeed page (days back: {body.days_back})",
        )
    except RunNowError as exc:
        raise HTTPException(exc.status if 400 <= exc.status < 600 else 502, str(exc)) from None
    finally:
        api.close()
    message = f"Started {run.get('dag_run_id')} of {shop.dag_id}" + (
        " (the DAG was paused: it is now unpaused)." if unpaused else "."
    )
    return JSONResponse(
        {
            "dag_id": shop.dag_id,
            "dag_run_id": run.get("dag_run_id"),
            "state": run.get("state"),
            "unpaused": unpaused,
            "message": message,
        },
        status_code=status.HTTP_201_CREATED,
    )


# -- shared ------------------------------------------------------------------------------------


def _table(config: Any, user: Any, session: Any) -> tuple[list[Any], list[str]]:
    from lightspeed.ui.shop_table import dag_infos, shop_rows

    visible = access.readable_dag_ids(user)
    wanted = [s.dag_id for a in config.accounts for s in a.enabled_shops if s.dag_id in visible]
    dags = dag_infos(session, wanted)
    first = shop_rows(config, dags, {}, {}, visible)
    records, names, warnings = _warehouse_facts(
        config.warehouse_conn_id, [row.run_key for row in first if row.run_key]
    )
    return shop_rows(config, dags, records, names, visible), warnings


def _warehouse_facts(warehouse: str, run_keys: list[str]) -> tuple[dict, dict, list[str]]:
    from lightspeed import db
    from lightspeed.ui.shop_table import run_records, shop_names

    try:
        with closing(db.connect(warehouse)) as pg:
            records = run_records(pg, run_keys)
            try:
                names = shop_names(pg)
            except Exception:  # no account imported yet, or tokens kept in another database
                pg.rollback()
                names = {}
            pg.rollback()  # read-only: end the transaction before closing
    except LightspeedError as exc:
        return {}, {}, [f"Records imported and shop names are not shown: {exc}"]
    except Exception as exc:  # psycopg2: warehouse down or not migrated
        log.warning("Reading the warehouse %s failed: %s", warehouse, exc)
        why = (
            f"Records imported and shop names are not shown: the warehouse {warehouse} could "
            f"not be read ({type(exc).__name__}). Check the connection and run `lightspeed "
            "migrate`; details are in the API server log."
        )
        return {}, {}, [why]
    return records, names, []


def _fmt_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_templates.filters["ts"] = _fmt_time
_templates.filters["q"] = lambda value: quote(str(value), safe="")


def _render(name: str, request: Request, **context: Any) -> str:
    return _templates.get_template(name).render(
        prefix=_prefix(request), airflow_root=_airflow_root(request), **context
    )
