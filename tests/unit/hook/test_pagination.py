from __future__ import annotations

import pytest

from lightspeed.pagination import CursorPaginator, PaginationError

FIRST = "https://api.test/API/V3/Account/1/Sale.json?limit=100"
NEXT = (
    "https://api.test/API/V3/Account/1/Sale.json?sort=timeStamp&timeStamp=%3E%3D%2C"
    "2021-10-05T14%3A18%3A46%2B00%3A00&limit=100&after=WyIyMDIxIiw1NDRd"
)


def page(next_url: object) -> dict:
    return {"@attributes": {"next": next_url, "previous": ""}, "Sale": []}


def test_next_url_is_used_verbatim() -> None:
    paginator = CursorPaginator(FIRST)
    assert paginator.next_url(page(NEXT)) == NEXT  # not re-encoded, params not re-added


@pytest.mark.parametrize(
    "payload",
    [page(""), page(None), page("   "), {"@attributes": {"count": "0"}}, {}, {"@attributes": ""}],
)
def test_stops_on_empty_or_missing_next(payload: dict) -> None:
    assert CursorPaginator(FIRST).next_url(payload) is None


def test_repeated_next_is_a_loop() -> None:
    paginator = CursorPaginator(FIRST)
    paginator.next_url(page(NEXT))
    with pytest.raises(PaginationError, match="Loop detected"):
        paginator.next_url(page(NEXT))


def test_next_pointing_back_to_the_first_page_is_a_loop() -> None:
    with pytest.raises(PaginationError, match="Loop detected"):
        CursorPaginator(FIRST).next_url(page(FIRST))


def test_relative_next_is_joined_to_the_api_host() -> None:
    url = CursorPaginator(FIRST).next_url(page("/API/V3/Account/1/Sale.json?after=abc"))
    assert url == "https://api.test/API/V3/Account/1/Sale.json?after=abc"


def test_page_cap_stops_endless_fresh_cursors() -> None:
    paginator = CursorPaginator(FIRST, max_pages=3)
    paginator.next_url(page(FIRST + "&after=1"))
    paginator.next_url(page(FIRST + "&after=2"))
    with pytest.raises(PaginationError, match="cap"):
        paginator.next_url(page(FIRST + "&after=3"))
