"""A worker SIGKILLed in the middle of an extraction leaves the warehouse as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import psycopg2
from warehouse_helpers import T0, FakeLightspeed, make_sale, snapshot

from lightspeed import entities
from lightspeed.extract import extract_entity
from lightspeed.windows import plan_window, read_watermark

REPO = Path(__file__).resolve().parents[3]

# The child edits every sale (a later void), streams two pages into the open transaction,
# says so, then hangs in the page iterator until it is killed.
CHILD = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    sys.path.insert(0, {helpers!r})
    import psycopg2
    from warehouse_helpers import T0, FakeLightspeed, make_sale
    from lightspeed import entities
    from lightspeed.extract import extract_entity
    from lightspeed.windows import plan_window

    class Hanging(FakeLightspeed):
        def paginate(self, entity, params):
            for number, page in enumerate(super().paginate(entity, params)):
                if number == 2:
                    print("STREAMING", flush=True)
                    sys.stdin.readline()
                yield page

    api = Hanging(now=T0 + timedelta(hours=1), page_size=5)
    for sale_id in range(1, 31):
        api.put("Sale", make_sale(sale_id, time_stamp=api.now, voided=True))
    conn = psycopg2.connect({dsn!r}, application_name="killed-extract")
    window = plan_window(conn, entities.SALES, account_id=7, shop_id=1, server_now=api.now)
    extract_entity(api, conn, entities.SALES, shop_id=1, window=window, run_id="killed",
                   flush_rows=1)
    print("FINISHED", flush=True)
    """
)


def _backend_state(dsn: str) -> str | None:
    with psycopg2.connect(dsn) as admin, admin.cursor() as cur:
        cur.execute("SELECT state FROM pg_stat_activity WHERE application_name = 'killed-extract'")
        row = cur.fetchone()
    admin.close()
    return row[0] if row else None


def test_sigkill_mid_extraction_changes_nothing(warehouse_dsn: str, conn) -> None:
    api = FakeLightspeed()
    for sale_id in range(1, 31):
        api.put("Sale", make_sale(sale_id))
    window = plan_window(conn, entities.SALES, account_id=7, shop_id=1, server_now=T0)
    extract_entity(api, conn, entities.SALES, shop_id=1, window=window, run_id="first")
    before = snapshot(conn)

    script = CHILD.format(helpers=str(Path(__file__).parent), dsn=warehouse_dsn)
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "STREAMING", child.stderr.read()
        # The child really is inside an open transaction holding staged rows.
        assert _backend_state(warehouse_dsn) == "idle in transaction"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdin.close()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    deadline = time.monotonic() + 10
    while _backend_state(warehouse_dsn) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # PostgreSQL notices the dead client on its own schedule
    assert snapshot(conn) == before
    assert read_watermark(conn, entities.SALES, account_id=7, shop_id=1) == T0

    api.now = T0 + timedelta(hours=1)
    for sale_id in range(1, 31):
        api.put("Sale", make_sale(sale_id, time_stamp=api.now, voided=True))
    window = plan_window(conn, entities.SALES, account_id=7, shop_id=1, server_now=api.now)
    result = extract_entity(api, conn, entities.SALES, shop_id=1, window=window, run_id="rerun")
    assert result.upserted == 30
