"""Cursor pagination: read a page, give the next URL. It never sends a request.

Lightspeed V3 pages carry `@attributes.next`, a full URL that already repeats every query
parameter plus an opaque `after=` cursor (reference §6). It is used verbatim: rebuilding it
from our own parameters would double-encode values or drop the server's defaults. A `next`
seen before means the server is looping, so we stop loudly rather than extract forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from lightspeed.errors import LightspeedError

DEFAULT_MAX_PAGES = 100_000  # 10 million records per query: far above any real extraction


class PaginationError(LightspeedError):
    """The API's cursors repeat or never end; retrying the same query will loop again."""


class CursorPaginator:
    """Tracks one query's cursor chain.

    Args:
        first_url: the URL of the first page (a `next` equal to it is a loop too).
        max_pages: hard cap on pages, so a server that mints endless fresh cursors stops.
    """

    def __init__(self, first_url: str, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self._seen = {first_url}
        self._base = first_url
        self.max_pages = max_pages
        self.pages = 0

    def next_url(self, payload: Mapping[str, Any]) -> str | None:
        """The URL of the next page, or None after the last one.

        Raises:
            PaginationError: the `next` URL was seen before, or the page cap was reached.
        """
        self.pages += 1
        attributes = payload.get("@attributes") if isinstance(payload, Mapping) else None
        nxt = attributes.get("next") if isinstance(attributes, Mapping) else None
        if not nxt or not isinstance(nxt, str) or not nxt.strip():
            return None
        url = urljoin(self._base, nxt.strip())  # a host-relative next is still followed
        if url in self._seen:
            raise PaginationError(
                f"Loop detected in pagination after page {self.pages}: the API returned a "
                "`next` cursor it had already returned. Retry later; if it repeats, narrow the "
                "window (e.g. `days_back`) and report it to Lightspeed support."
            )
        if self.pages >= self.max_pages:
            raise PaginationError(
                f"Pagination stopped after {self.pages} pages (the cap): narrow the query window."
            )
        self._seen.add(url)
        return url
