"""`lightspeed authorize`: log in to Lightspeed once and store the tokens in the warehouse.

The authorization-code flow for a data engineer at a terminal: print (and open) the authorize
URL, receive the code on a loopback HTTP callback (checking `state`), exchange it, check the
granted scopes in the JWT, store the tokens, then discover the account and its shops. The
real Lightspeed only redirects to the HTTPS URI registered for the client; with an `https://`
redirect URI nothing can listen locally without a certificate, so the user pastes the address
the browser was sent to instead.

`authorize()` is the flow as a function, for the demo and the tests.
"""

from __future__ import annotations

import argparse
import html.parser
import http.server
import logging
import sys
import threading
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from lightspeed.auth import AuthorizationFailed, OAuthClient, missing_scopes
from lightspeed.connection import DEFAULT_CONN_ID, LightspeedConnection, load_connection
from lightspeed.errors import ConfigError
from lightspeed.token_store import TokenStore

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True)
class ShopInfo:
    shop_id: int
    name: str
    time_zone: str

    @property
    def location_id(self) -> str:
        """The T.M.A.S. location ID: the shop ID zero-padded to 4 digits (1 -> "0001")."""
        return f"{self.shop_id:04d}"


@dataclass(frozen=True)
class AuthorizeResult:
    conn_id: str
    account_id: int
    account_name: str
    scopes: tuple[str, ...]
    shops: list[ShopInfo] = field(default_factory=list)


RUN_AGAIN = "run `lightspeed authorize` again"


def authorize(
    conn: LightspeedConnection,
    *,
    warehouse: str | None = None,
    port: int | None = None,
    open_browser: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    show: Callable[[str], None] | None = None,
    read_redirect: Callable[[str], str] | None = None,
    on_url: Callable[[str], None] | None = None,
    hook_options: Mapping[str, Any] | None = None,
) -> AuthorizeResult:
    """Run the whole flow; returns the account and shops the stored tokens give access to.

    Args:
        conn: the Lightspeed connection (client credentials, URLs, scopes).
        warehouse: token store (conn id or DSN); default: the connection's token_store_conn_id.
        port: local callback port, overriding the redirect URI's (0 = any free port).
        open_browser: open the authorize URL with `webbrowser`.
        timeout: seconds to wait for the browser to come back.
        show: where messages for the user go (default: stdout).
        read_redirect: asks the user for the redirected URL (https redirect URIs only).
        on_url: called with the authorize URL once the callback listens (tests drive the
            login form from here).
        hook_options: extra LightspeedHook arguments (tests: sleep, retry policy).

    Raises:
        AuthorizationFailed: refused, state mismatch, bad code or missing scopes.
        ConfigError: bad redirect URI, busy port, wrong client credentials.
    """
    show = show or _echo
    oauth = OAuthClient(conn)
    with _callback_for(conn.redirect_uri, port, read_redirect or input, show) as callback:
        url, state = oauth.authorization_url(redirect_uri=callback.redirect_uri)
        show(f"Open this URL in a browser and log in to Lightspeed:\n\n  {url}\n")
        if open_browser:
            webbrowser.open(url)
        if on_url is not None:
            on_url(url)
        params = callback.wait(timeout)
    return complete_authorization(
        conn,
        params,
        state=state,
        redirect_uri=callback.redirect_uri,
        warehouse=warehouse,
        hook_options=hook_options,
    )


def complete_authorization(
    conn: LightspeedConnection,
    params: Mapping[str, str],
    *,
    state: str,
    redirect_uri: str,
    warehouse: str | None = None,
    again: str = RUN_AGAIN,
    prepare_store: Callable[[str], None] | None = None,
    hook_options: Mapping[str, Any] | None = None,
) -> AuthorizeResult:
    """The callback's half of the flow, shared by this CLI and the Airflow UI page: check
    `state`, exchange the code, check the scopes, store the tokens, discover the account.

    Args:
        params: the callback's query parameters (`code` and `state`, or `error`).
        state: the state this login sent; anything else is refused.
        again: how the user starts over, for the error messages.
        prepare_store: called with the token store's target before saving (e.g. migrate it).
    """
    code = _code_from(params, state, again)
    tokens = OAuthClient(conn).exchange_code(code, redirect_uri=redirect_uri)
    _check_scopes(conn, tokens.scopes, again)
    store = TokenStore.for_connection(conn, warehouse)
    if prepare_store is not None:
        prepare_store(store.warehouse)
    store.save(tokens)  # before the first API call: that call may retire older tokens
    return discover(conn, store, tokens.scopes, hook_options or {})


def format_result(result: AuthorizeResult) -> str:
    """The success message: account and shops with their T.M.A.S. location IDs."""
    lines = [
        f"Authenticated: account {result.account_name} (ID {result.account_id}), "
        f"connection {result.conn_id}.",
        f"Scopes: {' '.join(result.scopes) or '(not reported)'}",
        f"Shops ({len(result.shops)}):",
        f"  {'shop ID':>7}  {'location':<8}  {'time zone':<20}  name",
    ]
    lines += [
        f"  {s.shop_id:>7}  {s.location_id:<8}  {s.time_zone:<20}  {s.name}" for s in result.shops
    ]
    return "\n".join(lines)


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "authorize",
        help="log in to Lightspeed and store the OAuth tokens in the warehouse",
        description="Run the OAuth authorization-code flow in a browser, store the tokens "
        "(encrypted) in the warehouse and list the account's shops.",
    )
    parser.add_argument("--conn-id", default=DEFAULT_CONN_ID, help="default: %(default)s")
    parser.add_argument(
        "--warehouse",
        help="token store: Airflow conn id or PostgreSQL DSN "
        "(default: the connection's token_store_conn_id extra, else lightspeed_warehouse)",
    )
    parser.add_argument(
        "--port", type=int, help="local callback port (default: the redirect URI's)"
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait (%(default)s)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import psycopg2

    from lightspeed import db
    from lightspeed.migrate import migrate

    conn = load_connection(args.conn_id, allow_metadata_db=True)
    warehouse = args.warehouse or conn.token_store_conn_id
    try:
        pg = db.connect(warehouse)
    except psycopg2.OperationalError:
        raise ConfigError(
            f"Cannot connect to the warehouse {warehouse!r} that stores the tokens: check "
            "that PostgreSQL runs and pass --warehouse (an Airflow conn id or a DSN)."
        ) from None
    try:
        migrate(pg)  # the token table must exist; idempotent and locked
    finally:
        pg.close()
    result = authorize(
        conn,
        warehouse=warehouse,
        port=args.port,
        open_browser=not args.no_browser,
        timeout=args.timeout,
        hook_options={"allow_metadata_db": True},
    )
    _echo(format_result(result))
    return 0


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _code_from(params: Mapping[str, str], state: str, again: str = RUN_AGAIN) -> str:
    if params.get("state") != state:
        raise AuthorizationFailed(
            "The callback's state does not match this login (a stale browser tab, or a forged "
            f"request). Close old Lightspeed tabs and {again}."
        )
    error = params.get("error")
    if error == "access_denied":
        raise AuthorizationFailed(
            f"The authorization was refused in the browser (access_denied). {again[:1].upper() + again[1:]} "
            "and click Authorize, logged in as the account owner or an employee allowed to "
            "authorize apps."
        )
    if error:
        detail = params.get("error_description") or params.get("hint") or ""
        raise AuthorizationFailed(
            f"Lightspeed returned {error} {detail}".rstrip()
            + f". Check the connection's client ID and scopes, then {again}."
        )
    code = params.get("code")
    if not code:
        raise AuthorizationFailed(
            f"The callback carried no authorization code. {again[:1].upper() + again[1:]}."
        )
    return code


def _check_scopes(
    conn: LightspeedConnection, granted: tuple[str, ...], again: str = RUN_AGAIN
) -> None:
    if not granted:
        log.warning("The token does not list its scopes; scope coverage was not checked")
        return
    missing = missing_scopes(conn.scopes, granted)
    if missing:
        raise AuthorizationFailed(
            f"The authorization lacks the scope(s) {', '.join(missing)} (granted: "
            f"{' '.join(granted)}). Log in as the account owner or an employee with those "
            f"rights and {again}; if Lightspeed still leaves them out, "
            "the OAuth client is not allowed them: check its registration."
        )


def discover(
    conn: LightspeedConnection,
    store: TokenStore,
    scopes: tuple[str, ...],
    hook_options: Mapping[str, Any],
) -> AuthorizeResult:
    """The account and its shops, as the stored tokens see them (two small API calls)."""
    from lightspeed.hook import LightspeedHook

    hook = LightspeedHook(connection=conn, token_store=store, **hook_options)
    account = hook.get_account()
    account_id = int(account["accountID"])
    store.update_account(account_id, account["name"])
    shops = [
        ShopInfo(int(s["shopID"]), str(s.get("name", "")).strip(), str(s.get("timeZone", "")))
        for s in hook.get_shops()
    ]
    return AuthorizeResult(conn.conn_id, account_id, account["name"], scopes, shops)


# -- unattended login (the emulator, the demo and tests) -------------------------------------


def authorize_with_login(
    conn: LightspeedConnection,
    username: str,
    password: str,
    *,
    decision: str = "authorize",
    warehouse: str | None = None,
    port: int | None = 0,
    timeout: float = 30.0,
    hook_options: Mapping[str, Any] | None = None,
) -> AuthorizeResult:
    """`authorize()` with the login and consent forms submitted by a script, as a browser would.

    Meant for the emulator (demo user `owner`/`owner`): the real Lightspeed login has
    protections a script should not try to get around.
    """
    return authorize(
        conn,
        warehouse=warehouse,
        port=port,
        open_browser=False,
        timeout=timeout,
        show=lambda _: None,
        on_url=lambda url: drive_login_form(url, username, password, decision=decision),
        hook_options=hook_options,
    )


def drive_login_form(
    authorize_url: str, username: str, password: str, *, decision: str = "authorize"
) -> None:
    """Open the authorize URL, log in, click `decision`, and follow the redirect to the callback.

    Raises:
        AuthorizationFailed: the login was refused (the page's message is quoted).
    """
    import requests

    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=_FORM_TIMEOUT)
        login = _find_form(page, lambda f: "password" in f.fields)
        page = browser.post(
            login.url,
            data={**login.fields, "username": username, "password": password},
            timeout=_FORM_TIMEOUT,
        )
        consent = _find_form(page, lambda f: any(value == decision for _, value in f.buttons))
        name = next(key for key, value in consent.buttons if value == decision)
        answer = browser.post(
            consent.url,
            data={**consent.fields, name: decision},
            allow_redirects=False,
            timeout=_FORM_TIMEOUT,
        )
        location = answer.headers.get("Location")
        if answer.status_code not in (301, 302, 303, 307) or not location:
            raise AuthorizationFailed(f"The consent page did not redirect ({answer.status_code}).")
    _follow_quietly(location)


def _follow_quietly(location: str) -> None:
    """Deliver the redirect to the callback as a browser would, but not through requests:
    urllib3 logs every URL at DEBUG (`lightspeed -v`), and this one carries the code."""
    try:
        with urllib.request.urlopen(location, timeout=_FORM_TIMEOUT[1]):
            pass
    except urllib.error.HTTPError:
        pass  # the callback answered; authorize() reports what it made of the request


_FORM_TIMEOUT = (5.0, 30.0)


@dataclass
class _Form:
    url: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self.text: list[str] = []
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(attr.get("action", "")))
        elif tag == "input" and self.forms and attr.get("name"):
            value = "password" if attr.get("type") == "password" else attr.get("value", "")
            self.forms[-1].fields[attr["name"]] = value
        elif tag == "button" and self.forms and attr.get("name"):
            self.forms[-1].buttons.append((attr["name"], attr.get("value", "")))
        self._in_error = "error" in (attr.get("class", "") + attr.get("id", ""))

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.text.append(data.strip())


def _find_form(response: Any, wanted: Callable[[_Form], bool]) -> _Form:
    parser = _FormParser()
    parser.feed(response.text)
    for form in parser.forms:
        if wanted(form):
            form.url = urljoin(response.url, form.url)
            return form
    message = (" ".join(parser.text) or f"HTTP {response.status_code}").rstrip(".")
    if not message.lower().startswith("login failed"):
        message = f"Login failed: {message}"
    raise AuthorizationFailed(
        f"{message}. Log in as the account owner or an employee allowed to "
        "authorize apps, then run `lightspeed authorize` again."
    )


# -- receiving the code --------------------------------------------------------------------


class _LoopbackCallback:
    """A one-shot HTTP server on 127.0.0.1 that catches the redirect carrying the code."""

    def __init__(self, redirect_uri: str, port: int | None) -> None:
        parts = urlsplit(redirect_uri)
        self._path = parts.path or "/"
        listen_port = port if port is not None else (parts.port or 80)
        try:
            self._server = http.server.HTTPServer(("127.0.0.1", listen_port), self._handler())
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on 127.0.0.1:{listen_port} for the callback ({exc.strerror}). "
                "Pass a free port with --port and register the matching redirect URI."
            ) from None
        actual = self._server.server_address[1]
        self.redirect_uri = urlunsplit(
            (parts.scheme, f"{parts.hostname}:{actual}", self._path, "", "")
        )
        self._done = threading.Event()
        self._params: dict[str, str] = {}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _LoopbackCallback:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, timeout: float) -> dict[str, str]:
        if not self._done.wait(timeout):
            raise AuthorizationFailed(
                f"No answer from the browser within {timeout:.0f} s. Run `lightspeed authorize` "
                "again (use --timeout for more time), and check that the redirect URI registered "
                f"for the client is {self.redirect_uri}."
            )
        return self._params

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if parts.path != outer._path or not ({"code", "error"} & params.keys()):
                    self.send_error(404)
                    return
                ok = "code" in params
                body = (
                    "<h1>Authorized</h1><p>You can close this tab and return to the terminal.</p>"
                    if ok
                    else "<h1>Not authorized</h1><p>Return to the terminal for what to do.</p>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if not outer._done.is_set():
                    outer._params = params
                    outer._done.set()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # the default logs the request line, which carries the code

        return Handler


class _PastedCallback:
    """For https redirect URIs: the user pastes the address the browser was sent to."""

    def __init__(self, redirect_uri: str, read: Callable[[str], str], show: Callable[[str], None]):
        self.redirect_uri = redirect_uri
        self._read = read
        self._show = show

    def __enter__(self) -> _PastedCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def wait(self, timeout: float) -> dict[str, str]:
        self._show(
            f"After you authorize, the browser goes to {self.redirect_uri}?code=... "
            "(the page may not load; that is fine)."
        )
        pasted = self._read("Paste that full address here: ").strip()
        return dict(parse_qsl(urlsplit(pasted).query, keep_blank_values=True))


def _callback_for(
    redirect_uri: str,
    port: int | None,
    read: Callable[[str], str],
    show: Callable[[str], None],
) -> _LoopbackCallback | _PastedCallback:
    parts = urlsplit(redirect_uri)
    if parts.scheme == "https":
        return _PastedCallback(redirect_uri, read, show)
    if parts.scheme != "http" or (parts.hostname or "") not in _LOOPBACK_HOSTS:
        raise ConfigError(
            f"The redirect URI {redirect_uri!r} is not on this machine, so `lightspeed "
            "authorize` cannot receive the code. Register and configure a loopback URI such as "
            "http://127.0.0.1:8765/callback, or an https one to paste the code."
        )
    return _LoopbackCallback(redirect_uri, port)
