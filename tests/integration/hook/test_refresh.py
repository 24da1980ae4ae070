"""Rotation, revocation and several processes refreshing at once, against the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import pytest
import requests

from lightspeed.errors import ReauthorizeRequired
from lightspeed.token_store import TokenStore


def test_refresh_rotates_and_the_spent_token_dies(kit, shared_emulator) -> None:
    conn, _ = kit.authorize(shared_emulator, conn_id="ls_rotate")
    store = TokenStore.for_connection(conn, kit.warehouse_dsn)
    before = store.get()
    hook = kit.hook(conn)
    shared_emulator.oauth.expire_access_tokens()  # the next API call gets 401
    assert hook.get_account()["accountID"] == "120645"
    after = store.get()
    assert after.refresh_token != before.refresh_token
    assert after.access_token != before.access_token and hook.stats.refreshes == 1
    # The new access token was used, so the spent refresh token is now revoked.
    reuse = requests.post(
        f"{shared_emulator.url}/auth/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": before.refresh_token,
            "client_id": conn.client_id,
            "client_secret": conn.client_secret,
        },
        timeout=10,
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"


def test_revoked_authorization_asks_to_authorize_again(kit, shared_emulator) -> None:
    conn, _ = kit.authorize(shared_emulator, conn_id="ls_revoked")
    stored = TokenStore.for_connection(conn, kit.warehouse_dsn).get()
    kit.control(
        shared_emulator, "tokens/revoke", {"refresh_token": stored.refresh_token, "access": True}
    )
    hook = kit.hook(conn)
    with pytest.raises(ReauthorizeRequired) as info:
        hook.get_account()
    message = str(info.value)
    assert "Run `lightspeed authorize --conn-id ls_revoked`" in message
    assert stored.refresh_token not in message and conn.client_secret not in message


WORKER = r"""
import json, sys, time
from datetime import timedelta
from lightspeed.connection import LightspeedConnection
from lightspeed.hook import LightspeedHook
from lightspeed.throttle import RetryPolicy

conn = LightspeedConnection(**json.loads(sys.argv[1]))
dsn, run_for = sys.argv[2], float(sys.argv[3])
hook = LightspeedHook(connection=conn, warehouse=dsn, refresh_margin=timedelta(seconds=1),
                      retry_policy=RetryPolicy(base_delay=0.05, max_delay=0.2))
print("ready", flush=True)
sys.stdin.readline()  # all processes start together
result = {"pages": 0, "error": None}
stop_at = time.monotonic() + run_for
try:
    while time.monotonic() < stop_at:
        for page in hook.paginate("Shop", {"archived": "true"}):
            result["pages"] += 1
        time.sleep(0.02)
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"
result["refreshes"] = hook.auth.refresh_count
result["after_401"] = hook.stats.refreshes
result["token_http"] = hook.auth.oauth._throttle.stats.as_dict()
print(json.dumps(result), flush=True)
"""


def test_processes_refreshing_at_once_never_spend_a_token_twice(kit) -> None:
    # No refresh-rate limit here: 4-s tokens need ~15 refreshes a minute, more than the
    # 5 Lightspeed allows; what is tested is that no refresh token is ever spent twice.
    emulator = kit.start(token_ttl=4, shops=1, days=1, sales_per_day=5, refresh_limit_per_minute=0)
    conn, _ = kit.authorize(emulator, conn_id="ls_concurrent")
    args = [json.dumps(asdict(conn)), kit.warehouse_dsn, "8"]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for child in children:  # wait until each has imported Airflow and built its hook
        assert child.stdout.readline().strip() == "ready", child.stderr.read()[-2000:]
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["error"] for r in results] == [None, None, None], results
    assert all(r["pages"] > 10 for r in results), results
    refreshes = sum(r["refreshes"] for r in results)
    # 8 s of 4-s tokens refreshed 1 s early: about 3 rotations, each by one process only.
    assert 2 <= refreshes <= 4, results
    stats = kit.stats(emulator)
    assert stats["refreshes"] == refreshes, json.dumps([stats, results])
    token_statuses = stats["requests"].get("oauth/token", {})
    assert all(str(status) in ("200",) for status in token_statuses), token_statuses
