"""LightspeedHook: auth, throttle and paginator wired to one requests.Session.

The hook yields pages, never a list of responses: `paginate(entity, params)` streams the
normalized records of each page so callers can COPY them as they come. Everything that
touches the network goes through `Throttle.execute`, which paces by the server's bucket and
decides retry vs fail; every request has a (connect, read) timeout.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from airflow.sdk import BaseHook

from lightspeed import normalize
from lightspeed.auth import DEFAULT_REFRESH_MARGIN, OAuthClient, StoreAuth, jwt_claims
from lightspeed.connection import DEFAULT_CONN_ID, LightspeedConnection, load_connection
from lightspeed.errors import LightspeedAPIError
from lightspeed.pagination import DEFAULT_MAX_PAGES, CursorPaginator
from lightspeed.throttle import LeakyBucketPacer, RequestStats, RetryPolicy, Throttle
from lightspeed.token_store import TokenStore

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API's maximum (reference §6)
DEFAULT_TIMEOUT = (10.0, 60.0)
OPERATORS = frozenset({"=", ">", ">=", "<", "<=", "><", "!=", "~", "!~", "IN"})
_USER_AGENT = "lightspeed-tmas/0.1 (+airflow)"


class LightspeedHook(BaseHook):
    """Reads Lightspeed Retail (R-Series) through its V3 API.

    Args:
        lightspeed_conn_id: the `lightspeed` Airflow connection.
        warehouse: PostgreSQL conn id or DSN of the token store (default: the connection's
            extra `token_store_conn_id`, else `lightspeed_warehouse`).
        connection: a ready LightspeedConnection instead of the Airflow lookup (tests, CLI).
        token_store: a ready TokenStore (tests).
        sleep: how to wait (pacing, backoff); tests pass a fake so they never wait.
        clock: monotonic seconds for the pacer; tests move it with their fake sleep.
        now: wall clock deciding token expiry (default: real UTC time; time_machine moves it).
        retry_policy: attempts and backoff of transient failures.
        timeout: (connect, read) seconds of every API request.
        refresh_margin: refresh the access token when it expires within this.
        allow_metadata_db: let the connection lookup fall back to the metadata DB (CLI only).
    """

    conn_name_attr = "lightspeed_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "lightspeed"
    hook_name = "Lightspeed Retail (R-Series)"

    def __init__(
        self,
        lightspeed_conn_id: str = DEFAULT_CONN_ID,
        warehouse: str | None = None,
        *,
        connection: LightspeedConnection | None = None,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        allow_metadata_db: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lightspeed_conn_id = connection.conn_id if connection else lightspeed_conn_id
        self.warehouse = warehouse
        self._connection = connection
        self._token_store = token_store
        self._now = now
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._allow_metadata_db = allow_metadata_db
        self.throttle = Throttle(
            pacer=LeakyBucketPacer(clock=clock, sleep=sleep),
            policy=retry_policy or RetryPolicy(),
            sleep=sleep,
        )
        self._last_date: datetime | None = None
        self._account_id: int | None = None

    # -- wiring (lazy: a hook built at parse time must not touch the network or DB) --------

    @cached_property
    def connection(self) -> LightspeedConnection:
        if self._connection is None:
            self._connection = load_connection(
                self.lightspeed_conn_id, allow_metadata_db=self._allow_metadata_db
            )
        return self._connection

    @cached_property
    def token_store(self) -> TokenStore:
        return self._token_store or TokenStore.for_connection(self.connection, self.warehouse)

    @cached_property
    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": _USER_AGENT})
        session.auth = self.auth
        return session

    @cached_property
    def auth(self) -> StoreAuth:
        oauth = OAuthClient(self.connection, now=self._now, sleep=self.throttle.sleep)
        return StoreAuth(self.token_store, oauth, margin=self._refresh_margin, now=self._now)

    @property
    def stats(self) -> RequestStats:
        """Requests sent, 429s met, retries, refreshes, total cost: for benchmarks and logs."""
        return self.throttle.stats

    @property
    def request_count(self) -> int:
        return self.throttle.stats.requests

    def get_conn(self) -> requests.Session:
        """The authorized session (Airflow's hook protocol)."""
        return self.session

    # -- public API ---------------------------------------------------------------------

    def paginate(
        self, entity: str, params: Mapping[str, object], *, max_pages: int = DEFAULT_MAX_PAGES
    ) -> Iterator[list[dict]]:
        """Yield the normalized records of `entity`, one list per page, following `next`.

        Params are plain values or operator tuples: `{"timeStamp": (">=", dt)}`,
        `{"completeTime": ("><", start, end)}`, `{"load_relations": ["SaleLines"]}`.
        """
        query = dict(params)
        query.setdefault("limit", PAGE_SIZE)
        url: str | None = f"{self._account_url()}/{entity}.json?{encode_query(query)}"
        paginator = CursorPaginator(url, max_pages=max_pages)
        while url is not None:  # bounded: the paginator raises on loops and at max_pages
            payload = self._get(url)
            page = normalize.records(payload, entity)
            log.debug("%s page %d: %d records", entity, paginator.pages + 1, len(page))
            yield page
            url = paginator.next_url(payload)

    def get_account(self) -> dict:
        """The authorized account: `{"accountID": "...", "name": "..."}`."""
        payload = self._get(f"{self.connection.api_base_url}/API/V3/Account.json")
        accounts = normalize.records(payload, "Account")
        if not accounts:
            raise LightspeedAPIError(
                200, "Account.json listed no account; run `lightspeed authorize` again"
            )
        wanted = self._account_id or self._claimed_account_id()
        chosen = next((a for a in accounts if _int(a.get("accountID")) == wanted), accounts[0])
        return {"accountID": str(chosen.get("accountID")), "name": str(chosen.get("name", ""))}

    @property
    def account_id(self) -> int:
        """The account the stored authorization is for (stored, JWT `acct`, or Account.json)."""
        if self._account_id is None:
            stored = self.auth.tokens().account_id
            self._account_id = stored or self._claimed_account_id()
        if self._account_id is None:
            self._account_id = int(self.get_account()["accountID"])
        return self._account_id

    def get_shops(self, include_archived: bool = False) -> list[dict]:
        """The account's shops (Shop records: shopID, name, timeZone, ...)."""
        params: dict[str, object] = {"sort": "shopID"}
        if include_archived:
            params["archived"] = "true"
        return [shop for page in self.paginate("Shop", params) for shop in page]

    def server_now(self) -> datetime:
        """The API's clock: the `Date` header of the latest response (one cheap call if none)."""
        if self._last_date is None:
            self._get(f"{self.connection.api_base_url}/API/V3/Account.json")
        if self._last_date is None:
            raise LightspeedAPIError(200, "the API sent no Date header; cannot tell its time")
        return self._last_date

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: can we read the account with the stored tokens?"""
        try:
            account = self.get_account()
        except Exception as exc:  # the UI shows the message; LightspeedErrors say what to do
            return False, str(exc)
        return True, f"Authorized for account {account['name']} ({account['accountID']})."

    # -- internals ------------------------------------------------------------------------

    def _account_url(self) -> str:
        return f"{self.connection.api_base_url}/API/V3/Account/{self.account_id}"

    def _claimed_account_id(self) -> int | None:
        return _int(jwt_claims(self.auth.tokens().access_token).get("acct"))

    def _get(self, url: str) -> Any:
        def send() -> requests.Response:
            return self.session.get(url, timeout=self._timeout)

        response, payload = self.throttle.execute(
            send, on_unauthorized=self.auth.on_unauthorized, context=f"GET {urlsplit(url).path}"
        )
        self._note_date(response)
        return payload

    def _note_date(self, response: requests.Response) -> None:
        value = response.headers.get("Date")
        if not value:
            return
        try:
            self._last_date = parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            log.debug("Unparseable Date header ignored")


def encode_query(params: Mapping[str, object]) -> str:
    """Encode query parameters the way Lightspeed writes them back in `next` (§5, §11.8).

    Operators go inside the value (`timeStamp=>=,2024-...`), the whole value percent-encoded
    so `+00:00` survives as `%2B00%3A00`; lists (load_relations) are JSON arrays; None is
    left out.
    """
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        parts.append(f"{quote(str(key), safe='.')}={quote(encode_value(value), safe='')}")
    return "&".join(parts)


def encode_value(value: object) -> str:
    """One parameter value as the API expects it, before percent-encoding."""
    if isinstance(value, tuple):
        if not value or value[0] not in OPERATORS:
            raise ValueError(f"unknown Lightspeed operator in {value!r}; use one of {OPERATORS}")
        op, *operands = value
        if op == "=" and len(operands) == 1:
            return format_scalar(operands[0])
        if op == "IN":
            items = (
                operands[0] if len(operands) == 1 and isinstance(operands[0], list) else operands
            )
            return "IN,[" + ",".join(format_scalar(item) for item in items) + "]"
        return ",".join([op, *(format_scalar(operand) for operand in operands)])
    if isinstance(value, list | set | frozenset):
        return json.dumps([format_scalar(item) for item in value], separators=(",", ":"))
    return format_scalar(value)


def format_scalar(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
