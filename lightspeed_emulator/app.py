"""The emulator's ASGI app: OAuth pages and endpoints, the resource API, control endpoints.

One Starlette app serves everything on one port. Every resource-API request goes through
the same pipeline, in the order a real deployment meets it: injected faults (a gateway
fails before anything else), bearer-token check (401), account (404), scope (403), the
leaky bucket (429), then the data side (`ResourceAPI.handle`). Every response's `Date`
header is the emulator's data clock, because clients take "now" from it.

Handlers are `async` on purpose: they run one at a time on the event loop, so the data side
and the OAuth state never see two requests at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightspeed_emulator.bucket import BucketDecision, BucketRegistry, format_number
from lightspeed_emulator.clock import DataClock
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.faults import (
    BrokenResponse,
    Fault,
    FaultInjector,
    FaultPlan,
    FaultSpecError,
)
from lightspeed_emulator.oauth import (
    LoginFailed,
    OAuthError,
    OAuthServer,
    TokenInfo,
    access_denied,
    render_authorize_page,
    render_error_page,
    render_login_page,
)
from lightspeed_emulator.stats import Stats

log = logging.getLogger("lightspeed_emulator.access")
API_MESSAGE_TRY_LATER = "Please try again later."
UNIVERSAL_SCOPE = "employee:all"
READ_ONLY_HINT = "The emulator's API is read-only; change data with POST /_emulator/mutate."


class ResourceBackend(Protocol):
    """What the app needs from `lightspeed_emulator.resources.ResourceAPI` (the data side)."""

    def account_list(self) -> dict: ...

    def handle(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]], base_url: str
    ) -> Any: ...

    def request_cost(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]]
    ) -> float: ...

    def required_scopes(self, entity: str) -> frozenset[str]: ...

    def shops(self) -> list[dict]: ...

    def mutate(self, entity: str, record_id: int, fields: dict[str, str] | None) -> None: ...


@dataclass
class EmulatorState:
    """Everything one emulator instance holds; tests reach it as `EmulatorServer.app_state`."""

    config: EmulatorConfig
    clock: DataClock
    resources: ResourceBackend
    oauth: OAuthServer
    buckets: BucketRegistry
    faults: FaultInjector
    stats: Stats


# ----- response helpers -----------------------------------------------------------------------


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _json_bytes(body), status_code=status, headers=headers, media_type="application/json"
    )


def api_error_body(status: int, message: str, error_class: str = "Exception") -> dict[str, str]:
    """The resource server's error shape (reference §8): every value a string."""
    return {
        "httpCode": str(status),
        "httpMessage": HTTPStatus(status).phrase,
        "message": message,
        "errorClass": error_class,
    }


def rate_limit_body() -> dict[str, str]:
    return api_error_body(429, "Rate Limit Exceeded", "RateLimitException")


def oauth_error_response(error: OAuthError) -> Response:
    headers = {"Cache-Control": "no-store", **error.headers}
    return json_response(error.status, error.body(), headers)


def _tag(request: Request, endpoint: str) -> None:
    """Name the endpoint this request counts under in the stats."""
    request.scope.setdefault("state", {})["endpoint"] = endpoint


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


async def _body_fields(request: Request) -> dict[str, str]:
    """Token-endpoint fields from a form-encoded, multipart or JSON body.

    Raises:
        OAuthError: the body is not parseable (400 invalid_request).
    """
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            raise OAuthError(
                400, "invalid_request", "The request body is not valid JSON."
            ) from None
        if not isinstance(data, dict):
            raise OAuthError(400, "invalid_request", "The JSON body must be an object.")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


# ----- middleware -----------------------------------------------------------------------------


class DataClockMiddleware:
    """Stamps the data clock into `Date`, counts every response and writes the access log.

    The log line carries the path only: query strings and bodies can hold codes and tokens.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.emulator = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        started = time.perf_counter()
        status = 0

        async def send_with_date(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["date"] = format_datetime(self.emulator.clock.now(), usegmt=True)
            await send(message)

        try:
            await self.app(scope, receive, send_with_date)
        finally:
            endpoint = scope["state"].get("endpoint", "other")
            self.emulator.stats.record_request(endpoint, status or 500)
            log.info(
                "%s %s -> %s (%s, %.1f ms)",
                scope["method"],
                scope["path"],
                status or "aborted",
                endpoint,
                (time.perf_counter() - started) * 1000,
            )


# ----- the resource-API pipeline ----------------------------------------------------------------


@dataclass
class ApiRequest:
    """One resource-API call, resolved from the path."""

    stats_key: str
    entity: str | None  # None for Account.json and Session.json: no entity scope or cost rules
    account_id: str | None  # from the path; None where the path carries none
    produce: Callable[[TokenInfo], tuple[int, Any]]
    cost: Callable[[], float]


def _bucket_headers(info: TokenInfo, decision: BucketDecision) -> dict[str, str]:
    return {
        "X-LS-Acct-Id": info.account_id,
        "X-LS-Oauth-Client-Id": info.client_id,
        "X-LS-API-Bucket-Level": f"{format_number(decision.level)}/{format_number(decision.size)}",
        "X-LS-API-Drip-Rate": format_number(decision.drip_rate),
        "X-LS-API-Request-Cost": format_number(decision.cost),
    }


def _fault_response(state: EmulatorState, fault: Fault, token: str | None) -> Response:
    state.stats.record_event(f"fault:{fault.kind}")
    if fault.kind == "5xx":
        status = fault.server_error_status()
        return json_response(
            status, api_error_body(status, "The server could not answer; try again.")
        )
    if fault.kind == "429":
        headers = {
            "Retry-After": str(fault.retry_after),
            "X-LS-API-RateLimit-Type": "api-leaky-bucket",
        }
        return json_response(429, rate_limit_body(), headers)
    if fault.kind == "try-later":
        return json_response(400, api_error_body(400, API_MESSAGE_TRY_LATER))
    # expire-token: the token really dies, so the client's refresh path is exercised for real.
    if token:
        state.oauth.expire_access_tokens(token)
    return oauth_error_response(access_denied())


def _check_scope(state: EmulatorState, entity: str, info: TokenInfo) -> Response | None:
    try:
        required = state.resources.required_scopes(entity)
    except (KeyError, ValueError):
        return None  # unknown entity: the data side answers 404
    if not required or UNIVERSAL_SCOPE in info.scopes or required & info.scopes:
        return None
    needed = ", ".join(sorted(required))
    return json_response(
        403,
        api_error_body(
            403,
            f"The access token lacks the scope {entity} needs (any one of: {needed}). "
            "Authorize the application again with that scope.",
            "ForbiddenException",
        ),
    )


def _safe_cost(call: ApiRequest) -> float:
    try:
        return float(call.cost())
    except (KeyError, ValueError, TypeError):
        return 1.0  # an unknown entity or a malformed query still costs the base drip


async def serve_api(request: Request, state: EmulatorState, call: ApiRequest) -> Response:
    """Run one resource-API request through faults, auth, account, scope, bucket and data."""
    _tag(request, call.stats_key)
    if request.method not in {"GET", "HEAD"}:
        return json_response(405, api_error_body(405, READ_ONLY_HINT, "MethodNotAllowed"))
    plan: FaultPlan = state.faults.plan(call.entity or call.stats_key)
    if plan.delay:
        await asyncio.sleep(plan.delay)
    token = _bearer(request)
    if plan.respond is not None:
        return _fault_response(state, plan.respond, token)
    try:
        info = state.oauth.authenticate(token)
    except OAuthError as error:
        return oauth_error_response(error)
    response = _authorized(state, call, info)
    if plan.body is not None:
        state.stats.record_event(f"fault:{plan.body.kind}")
        return BrokenResponse(
            plan.body, response.body, response.status_code, dict(response.headers)
        )
    return response


def _authorized(state: EmulatorState, call: ApiRequest, info: TokenInfo) -> Response:
    bucket = state.buckets.get(info.account_id, info.client_id)
    idle = BucketDecision(True, bucket.level(), bucket.size, bucket.drip_rate, 0.0, 0)
    if call.account_id is not None and call.account_id != info.account_id:
        message = f"Account {call.account_id} was not found or this token may not read it."
        body = api_error_body(404, message, "NotFoundException")
        return json_response(404, body, _bucket_headers(info, idle))
    if call.entity is not None:
        refused = _check_scope(state, call.entity, info)
        if refused is not None:
            refused.headers.update(_bucket_headers(info, idle))
            return refused
    decision = bucket.consume(_safe_cost(call))
    headers = _bucket_headers(info, decision)
    if not decision.allowed:
        headers.update(
            {
                "Retry-After": str(decision.retry_after),
                "X-LS-API-RateLimit-Type": "api-leaky-bucket",
            }
        )
        return json_response(429, rate_limit_body(), headers)
    try:
        status, body = call.produce(info)
    except Exception:
        # A data-side bug must reach the client as the 500 a real server would send.
        log.exception("the data side failed on %s", call.stats_key)
        status, body = 500, api_error_body(500, "Internal server error.")
    return json_response(status, body, headers)


def _strip_json(segment: str) -> str:
    return segment.removesuffix(".json")


def _query(request: Request) -> list[tuple[str, str]]:
    raw = request.scope.get("query_string", b"").decode("utf-8", "replace")
    return parse_qsl(raw, keep_blank_values=True)


# ----- route handlers ---------------------------------------------------------------------------


class Handlers:
    """Route handlers bound to one emulator's state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # OAuth -----------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        _tag(request, "oauth/authorize")
        try:
            pending = self.state.oauth.start_authorization(dict(request.query_params))
        except OAuthError as error:
            page = render_error_page(
                f"Error: {error.error}", f"{error.description} {error.hint or ''}"
            )
            return HTMLResponse(page, status_code=error.status)
        return HTMLResponse(render_login_page(pending))

    async def login(self, request: Request) -> Response:
        _tag(request, "oauth/login")
        form = await request.form()
        request_id = str(form.get("request_id", ""))
        try:
            pending = self.state.oauth.login(
                request_id, str(form.get("username", "")), str(form.get("password", ""))
            )
        except LoginFailed as failure:
            return self._login_failed(request_id, failure)
        return HTMLResponse(render_authorize_page(pending))

    def _login_failed(self, request_id: str, failure: LoginFailed) -> Response:
        try:
            pending = self.state.oauth.pending_request(request_id)
        except LoginFailed:
            return HTMLResponse(
                render_error_page("Login failed", str(failure)), status_code=failure.status
            )
        return HTMLResponse(render_login_page(pending, str(failure)), status_code=failure.status)

    async def approve(self, request: Request) -> Response:
        _tag(request, "oauth/approve")
        form = await request.form()
        decision = str(form.get("decision", "")).lower()
        if decision not in {"authorize", "deny"}:
            page = render_error_page(
                "Authorize Application", "Choose Authorize Application or Deny."
            )
            return HTMLResponse(page, status_code=400)
        try:
            target = self.state.oauth.decide(
                str(form.get("request_id", "")), decision == "authorize"
            )
        except LoginFailed as failure:
            return HTMLResponse(
                render_error_page("Authorize Application", str(failure)), status_code=failure.status
            )
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        _tag(request, "oauth/token")
        if request.method != "POST":
            error = OAuthError(
                405, "invalid_request", "The token endpoint only accepts POST.", "Use POST"
            )
            return oauth_error_response(error)
        try:
            fields = await _body_fields(request)
            body = self.state.oauth.token(fields, _basic(request))
        except OAuthError as error:
            return oauth_error_response(error)
        grant = "refresh" if fields.get("grant_type") == "refresh_token" else "code_exchange"
        self.state.stats.record_event(grant)
        return json_response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revoke(self, request: Request) -> Response:
        _tag(request, "oauth/revoke")
        try:
            self.state.oauth.revoke(await _body_fields(request), _basic(request))
        except OAuthError as error:
            return oauth_error_response(error)
        return json_response(200, {})

    async def introspect(self, request: Request) -> Response:
        _tag(request, "oauth/introspect")
        return json_response(200, self.state.oauth.introspect(_bearer(request)))

    async def jwks(self, request: Request) -> Response:
        _tag(request, "oauth/jwks")
        return json_response(200, self.state.oauth.jwks())

    # Resource API ----------------------------------------------------------------------------

    async def account_list(self, request: Request) -> Response:
        call = ApiRequest(
            "Account",
            None,
            None,
            lambda info: (200, self.state.resources.account_list()),
            lambda: 1.0,
        )
        return await serve_api(request, self.state, call)

    async def account_detail(self, request: Request) -> Response:
        account_id = _strip_json(request.path_params["account_id"])
        call = ApiRequest("Account", None, account_id, self._account_detail, lambda: 1.0)
        return await serve_api(request, self.state, call)

    def _account_detail(self, info: TokenInfo) -> tuple[int, Any]:
        config = self.state.config
        return 200, {
            "@attributes": {"systemCustomerID": info.account_id},
            "status": "Active",
            "name": config.account_name,
            "employeeCount": "2",
            "employeeLimit": str(5 * config.registers),
            "uniqueSubscriptionIdentifier": f"emulator-{info.account_id}",
            "defaultCurrency": {"code": "USD", "symbol": "$"},
            "purchasingCurrencies": {
                "purchasingCurrency": [{"code": "USD", "symbol": "$", "rate": "1"}]
            },
        }

    async def session(self, request: Request) -> Response:
        call = ApiRequest("Session", None, None, self._session, lambda: 1.0)
        return await serve_api(request, self.state, call)

    def _session(self, info: TokenInfo) -> tuple[int, Any]:
        user = info.user
        return 200, {
            "sessionID": info.jti[:32],
            "sessionCookie": "",
            "employeeID": user.employee_id,
            "systemCustomerID": info.account_id,
            "systemUserID": user.employee_id,
            "systemAPIClientID": info.client_id,
            "systemAPIKeyID": "0",
            "ecomUrl": "",
            "shopCount": str(len(self.state.resources.shops())),
            "Employee": {
                "employeeID": user.employee_id,
                "firstName": user.first_name,
                "lastName": user.last_name,
                "singleShop": "false",
                "hasPin": "false",
                "isCheckedIn": "false",
            },
            "Rights": {"admin": str(user.admin).lower(), "register": "true"},
        }

    async def entity(self, request: Request) -> Response:
        params = request.path_params
        entity = _strip_json(params["entity"])
        record_id = _strip_json(params["record_id"]) if "record_id" in params else None
        account_id = _strip_json(params["account_id"])
        query = _query(request)
        base_url = f"{str(request.base_url).rstrip('/')}/API/V3/Account/{account_id}/{entity}.json"
        resources = self.state.resources

        def produce(info: TokenInfo) -> tuple[int, Any]:
            answer = resources.handle(entity, record_id, query, base_url)
            return answer.status, answer.body

        call = ApiRequest(
            entity,
            entity,
            account_id,
            produce,
            lambda: resources.request_cost(entity, record_id, query),
        )
        return await serve_api(request, self.state, call)

    async def api_not_found(self, request: Request) -> Response:
        _tag(request, "API/unknown")
        body = api_error_body(404, f"No endpoint at {request.url.path}.", "NotFoundException")
        return json_response(404, body)

    # Control ---------------------------------------------------------------------------------

    async def stats(self, request: Request) -> Response:
        _tag(request, "control/stats")
        state = self.state
        snapshot = state.stats.snapshot()
        snapshot.update(
            {
                "buckets": state.buckets.snapshot(),
                "faults_fired": state.faults.fired_counts(),
                "tokens": state.oauth.counts(),
                "data_clock": state.clock.now().isoformat(),
            }
        )
        return json_response(200, snapshot)

    async def _control_json(self, request: Request, name: str) -> dict[str, Any] | Response:
        _tag(request, f"control/{name}")
        if not self.state.config.control:
            return json_response(
                404, {"error": "Control endpoints are off; start the emulator with --control."}
            )
        if request.method == "GET":
            return {}
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return json_response(400, {"error": "The body must be a JSON object."})
        return data

    async def control_faults(self, request: Request) -> Response:
        data = await self._control_json(request, "faults")
        if isinstance(data, Response):
            return data
        faults = self.state.faults
        if data.get("clear"):
            faults.clear()
        try:
            added = faults.add(data.get("add") or [])
        except FaultSpecError as error:
            return json_response(400, {"error": str(error)})
        return json_response(200, {"faults": faults.describe(), "added": len(added)})

    async def control_clock(self, request: Request) -> Response:
        data = await self._control_json(request, "clock")
        if isinstance(data, Response):
            return data
        clock = self.state.clock
        try:
            if "set" in data:
                clock.set(datetime.fromisoformat(str(data["set"])))
            if "advance" in data:
                clock.advance(float(data["advance"]))
        except (TypeError, ValueError) as error:
            return json_response(
                400,
                {
                    "error": f"Give {{'set': ISO-8601 with offset}} or {{'advance': seconds}}: {error}"
                },
            )
        return json_response(200, {"now": clock.now().isoformat()})

    async def control_revoke(self, request: Request) -> Response:
        data = await self._control_json(request, "tokens/revoke")
        if isinstance(data, Response):
            return data
        revoked = self.state.oauth.revoke_refresh_tokens(
            data.get("refresh_token"), with_access=bool(data.get("access"))
        )
        return json_response(200, {"revoked": revoked})

    async def control_expire(self, request: Request) -> Response:
        data = await self._control_json(request, "tokens/expire")
        if isinstance(data, Response):
            return data
        return json_response(
            200, {"expired": self.state.oauth.expire_access_tokens(data.get("access_token"))}
        )

    async def control_mutate(self, request: Request) -> Response:
        data = await self._control_json(request, "mutate")
        if isinstance(data, Response):
            return data
        try:
            entity, record_id = str(data["entity"]), int(data["id"])
            fields = (
                None
                if data.get("delete")
                else {str(k): str(v) for k, v in dict(data["fields"]).items()}
            )
        except (KeyError, TypeError, ValueError):
            hint = 'Give {"entity": "Sale", "id": 123, "fields": {...}} or {"entity": ..., "id": ..., "delete": true}.'
            return json_response(400, {"error": hint})
        try:
            self.state.resources.mutate(entity, record_id, fields)
        except (KeyError, LookupError) as error:
            return json_response(404, {"error": f"No {entity} {record_id}: {error}"})
        except ValueError as error:
            return json_response(400, {"error": str(error)})
        return json_response(200, {"entity": entity, "id": record_id, "deleted": fields is None})

    async def control_stats_reset(self, request: Request) -> Response:
        data = await self._control_json(request, "stats/reset")
        if isinstance(data, Response):
            return data
        self.state.stats.reset()
        self.state.faults.reset_counts()
        if data.get("buckets"):
            self.state.buckets.reset()
        return json_response(200, {"reset": True})


def create_app(state: EmulatorState) -> ASGIApp:
    """Build the ASGI app for one emulator state (served by uvicorn in `server.py`)."""
    h = Handlers(state)
    api_methods = ["GET", "POST", "PUT", "DELETE"]
    routes = [
        Route("/auth/oauth/authorize", h.authorize, methods=["GET"]),
        Route("/auth/oauth/login", h.login, methods=["POST"]),
        Route("/auth/oauth/approve", h.approve, methods=["POST"]),
        Route("/auth/oauth/token", h.token, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/auth/oauth/revoke", h.revoke, methods=["POST"]),
        Route("/auth/oauth/introspect", h.introspect, methods=["GET"]),
        Route("/.well-known/jwks", h.jwks, methods=["GET"]),
        Route("/API/V3/Account.json", h.account_list, methods=api_methods),
        Route("/API/V3/Account", h.account_list, methods=api_methods),
        Route("/API/Session.json", h.session, methods=api_methods),
        Route("/API/Session", h.session, methods=api_methods),
        Route("/API/V3/Session.json", h.session, methods=api_methods),
        Route("/API/V3/Session", h.session, methods=api_methods),
        Route("/API/V3/Account/{account_id}", h.account_detail, methods=api_methods),
        Route("/API/V3/Account/{account_id}/{entity}", h.entity, methods=api_methods),
        Route("/API/V3/Account/{account_id}/{entity}/{record_id}", h.entity, methods=api_methods),
        Route("/API/{rest:path}", h.api_not_found, methods=api_methods),
        Route("/_emulator/stats", h.stats, methods=["GET"]),
        Route("/_emulator/faults", h.control_faults, methods=["GET", "POST"]),
        Route("/_emulator/clock", h.control_clock, methods=["POST"]),
        Route("/_emulator/tokens/revoke", h.control_revoke, methods=["POST"]),
        Route("/_emulator/tokens/expire", h.control_expire, methods=["POST"]),
        Route("/_emulator/mutate", h.control_mutate, methods=["POST"]),
        Route("/_emulator/stats/reset", h.control_stats_reset, methods=["POST"]),
    ]
    return DataClockMiddleware(Starlette(routes=routes), state)
