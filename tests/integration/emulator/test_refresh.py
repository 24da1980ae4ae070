"""Refresh-token rotation with Lightspeed's deferred revocation (reference §2.5, 2026-01-15)."""

from __future__ import annotations

REVOKED = {
    "error": "invalid_grant",
    "error_description": "The refresh token is invalid.",
    "hint": "Token has been revoked",
}


def test_refresh_rotates_both_tokens(emulator, flow) -> None:
    first = flow.tokens(emulator.url)
    response = flow.refresh(emulator.url, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert set(second) == {"token_type", "expires_in", "access_token", "refresh_token"}


def test_used_refresh_token_survives_until_the_new_access_token_is_used(emulator, flow) -> None:
    first = flow.tokens(emulator.url)
    # The client "lost" the first answer, so it retries with the same refresh token.
    lost = flow.refresh(emulator.url, first["refresh_token"]).json()
    retry = flow.refresh(emulator.url, first["refresh_token"])
    assert retry.status_code == 200
    kept = retry.json()

    assert (
        flow.api_get(f"{emulator.account_url}/Sale.json", kept["access_token"]).status_code == 200
    )

    reused = flow.refresh(emulator.url, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json() == REVOKED
    # The sibling pair from the lost answer lost too; the pair in use goes on rotating.
    assert flow.refresh(emulator.url, lost["refresh_token"]).json() == REVOKED
    assert flow.refresh(emulator.url, kept["refresh_token"]).status_code == 200


def test_old_access_token_dies_with_its_refresh_token(emulator, flow) -> None:
    first = flow.tokens(emulator.url)
    sale_url = f"{emulator.account_url}/Sale.json"
    second = flow.refresh(emulator.url, first["refresh_token"]).json()
    assert flow.api_get(sale_url, first["access_token"]).status_code == 200  # not yet retired
    assert flow.api_get(sale_url, second["access_token"]).status_code == 200
    old = flow.api_get(sale_url, first["access_token"])
    assert old.status_code == 401
    assert old.json()["error"] == "access_denied"


def test_at_most_five_refresh_attempts_per_minute_per_connection(emulator, flow) -> None:
    pair = flow.tokens(emulator.url)
    for _ in range(5):
        assert flow.refresh(emulator.url, pair["refresh_token"]).status_code == 200
    throttled = flow.refresh(emulator.url, pair["refresh_token"])
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "refresh" in throttled.json()["hint"]

    emulator.wall.advance(61)
    assert flow.refresh(emulator.url, pair["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_or_garbage_is_invalid_grant(emulator, flow) -> None:
    garbage = flow.refresh(emulator.url, "def50200nonsense")
    assert garbage.status_code == 400
    assert garbage.json()["error"] == "invalid_grant"
    assert garbage.json()["hint"] == "Cannot decrypt the refresh token"


def test_refresh_may_narrow_but_not_widen_scope(emulator, flow) -> None:
    pair = flow.tokens(emulator.url, scope="employee:register employee:reports")
    wider = flow.refresh(
        emulator.url, pair["refresh_token"], scope="employee:register employee:all"
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    narrower = flow.refresh(emulator.url, pair["refresh_token"], scope="employee:register")
    assert narrower.status_code == 200


def test_expired_access_token_then_refresh_recovers(emulator, flow) -> None:
    pair = flow.tokens(emulator.url)
    sale_url = f"{emulator.account_url}/Sale.json"
    emulator.wall.advance(3601)
    expired = flow.api_get(sale_url, pair["access_token"])
    assert expired.status_code == 401
    assert expired.json()["hint"] == "Access token could not be verified"
    fresh = flow.refresh(emulator.url, pair["refresh_token"]).json()
    assert flow.api_get(sale_url, fresh["access_token"]).status_code == 200
