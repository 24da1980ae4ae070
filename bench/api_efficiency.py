"""API efficiency: a first import against the leaky bucket, next to the bucket's own bound.

Lightspeed drains one bucket per account at `drip` units a second; a request costs 1 unit
(1.8 for a Sale page with its lines and payments). No client can finish before

    bound = max(0, sum of accepted request costs - bucket size) / drip

seconds (an empty bucket absorbs its size at the start). This script runs the product's
own task bodies (`windows.plan_window` + `extract.extract_entity` with a real
`LightspeedHook`, a new hook per task as in the DAGs) against the emulator over HTTP and
into a fresh PostgreSQL warehouse, and reports wall time / bound, requests per 1,000
records and 429s. Four cases:

* small: a chain at the real drip (1/s, bucket 90), one shop after the other;
* large: a bigger chain with the drip sped up (`--drip-rate`; the headers report it);
* concurrent: every shop's import in its own process at once, plus one account process
  (Items, Employees), all against one account's bucket: what happens when all shop DAGs
  of a chain fire together;
* pool: the same processes, at most `--pool-slots` (4) at a time, as the account's Airflow
  pool `lightspeed_<conn_id>` lets them run.

    .venv/bin/python -m bench.api_efficiency                       # all four, ~5.5 min
    .venv/bin/python -m bench.api_efficiency --cases small --small-shops 1 --small-days 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import common

SHOP_ENTITY_NAMES = ("SALES", "EMPLOYEE_HOURS")
ACCOUNT_ENTITY_NAMES = ("ITEMS", "EMPLOYEES")
WORKER_READY_TIMEOUT = 180.0  # 20 processes importing Airflow on 2 busy cores
WORKER_GO_TIMEOUT = 3600.0  # a worker waiting for its turn in a pool of slots


@dataclass
class Traffic:
    """What the API answered to one process, read from the response headers."""

    requests: int = 0
    throttled: int = 0
    cost: float = 0.0  # accepted requests only: refused ones cost nothing
    size: float = 0.0
    drip: float = 0.0

    def add(self, other: Traffic) -> None:
        self.requests += other.requests
        self.throttled += other.throttled
        self.cost += other.cost
        self.size = self.size or other.size
        self.drip = self.drip or other.drip


class Recorder:
    """A requests response hook on each LightspeedHook's session: the header values the
    bucket reported, without touching the hook's code."""

    def __init__(self) -> None:
        self.traffic = Traffic()

    def attach(self, hook: Any) -> Any:
        hook.session.hooks["response"].append(self._on_response)
        return hook

    def _on_response(self, response: Any, *args: object, **kwargs: object) -> None:
        if "/API/" not in response.url:
            return  # OAuth traffic is not metered by the bucket
        traffic = self.traffic
        traffic.requests += 1
        headers = response.headers
        level = headers.get("X-LS-API-Bucket-Level", "")
        if "/" in level:
            traffic.size = float(level.split("/", 1)[1])
        if headers.get("X-LS-API-Drip-Rate"):
            traffic.drip = float(headers["X-LS-API-Drip-Rate"])
        if response.status_code == 429:
            traffic.throttled += 1
        elif headers.get("X-LS-API-Request-Cost"):
            traffic.cost += float(headers["X-LS-API-Request-Cost"])


@dataclass
class ImportResult:
    """Records read and rows staged by one process, and its API traffic."""

    records: int = 0
    rows: int = 0
    per_entity: dict[str, int] = field(default_factory=dict)
    traffic: Traffic = field(default_factory=Traffic)
    finished_at: float = 0.0  # time.time() when the last task ended

    def add(self, other: ImportResult) -> None:
        self.records += other.records
        self.rows += other.rows
        for name, count in other.per_entity.items():
            self.per_entity[name] = self.per_entity.get(name, 0) + count
        self.traffic.add(other.traffic)
        self.finished_at = max(self.finished_at, other.finished_at)


# --------------------------------------------------------------------------- task bodies


def _new_hook(warehouse_dsn: str, recorder: Recorder) -> Any:
    from lightspeed.hook import LightspeedHook

    return recorder.attach(LightspeedHook(common.CONN_ID, warehouse=warehouse_dsn))


def import_scope(
    warehouse_dsn: str,
    entity_names: Sequence[str],
    *,
    shop_id: int | None,
    days_back: int,
    run_key: str,
) -> ImportResult:
    """What one DAG's API tasks do: `plan` (the API's clock, the windows), then one import
    task per entity, each with its own hook and warehouse transaction."""
    from lightspeed import entities
    from lightspeed.db import connect, transaction
    from lightspeed.extract import extract_entity
    from lightspeed.windows import plan_window

    recorder = Recorder()
    hook = _new_hook(warehouse_dsn, recorder)
    server_now, account_id = hook.server_now(), hook.account_id
    with transaction(warehouse_dsn) as conn:
        windows = {
            name: plan_window(
                conn,
                getattr(entities, name),
                account_id=account_id,
                shop_id=shop_id,
                server_now=server_now,
                days_back=days_back if shop_id is not None else 0,
            )
            for name in entity_names
        }
    result = ImportResult()
    for name in entity_names:
        conn = connect(warehouse_dsn)
        try:
            extracted = extract_entity(
                _new_hook(warehouse_dsn, recorder),
                conn,
                getattr(entities, name),
                shop_id=shop_id,
                window=windows[name],
                run_id=run_key,
                known_shop_ids={shop_id} if shop_id is not None else None,
            )
        finally:
            conn.close()
        result.records += extracted.fetched
        result.rows += sum(table["staged"] for table in extracted.tables.values())
        result.per_entity[extracted.entity] = extracted.fetched
    result.traffic = recorder.traffic
    result.finished_at = time.time()
    return result


# --------------------------------------------------------------------------- cases


def figures(
    case: str,
    *,
    shops: int,
    days: int,
    processes: int,
    result: ImportResult,
    wall: float,
    emulator_stats: dict[str, Any],
) -> dict[str, Any]:
    traffic = result.traffic
    drip = traffic.drip or 1.0
    bound = max(0.0, traffic.cost - traffic.size) / drip
    accepted = traffic.requests - traffic.throttled
    out = {
        "case": case,
        "shops": shops,
        "days": days,
        "processes": processes,
        "records": result.records,
        "rows": result.rows,
        "per_entity": result.per_entity,
        "requests": accepted,
        "requests_sent": traffic.requests,
        "requests_per_1000_records": round(1000 * accepted / max(1, result.records), 2),
        "throttled_429": traffic.throttled,
        "emulator_api_requests": emulator_stats.get("api_requests"),
        "emulator_rate_limited": emulator_stats.get("rate_limited"),
        "cost": round(traffic.cost, 2),
        "bucket_size": traffic.size,
        "drip_rate": drip,
        "bound_s": round(bound, 2),
        "wall_s": round(wall, 2),
        "wall_over_bound": round(wall / bound, 3) if bound else None,
        "records_per_s": round(result.records / wall, 1) if wall else None,
    }
    print(
        f"  {case}: {shops} shops x {days} days, {processes} process(es): "
        f"{result.records:,} records ({result.rows:,} rows) in {accepted} requests "
        f"({out['requests_per_1000_records']} per 1,000 records) + {traffic.throttled} x 429, "
        f"cost {traffic.cost:.1f} at {drip:g}/s, bucket {traffic.size:g}: "
        f"bound {bound:.1f} s, wall {wall:.1f} s = {out['wall_over_bound'] or '-'} x bound",
        flush=True,
    )
    return out


def sequential_case(
    case: str, *, shops: int, days: int, drip: float | None, bucket: float | None
) -> dict[str, Any]:
    """Shops one after the other, then the account, in this process."""
    with (
        common.emulator(shops=shops, days=days + 1, drip_rate=drip, bucket_size=bucket) as url,
        common.throwaway_database() as dsn,
    ):
        common.authorize(url, dsn)
        common.reset_emulator(url)
        total = ImportResult()
        started = time.perf_counter()
        for shop_id in range(1, shops + 1):
            total.add(
                import_scope(
                    dsn, SHOP_ENTITY_NAMES, shop_id=shop_id, days_back=days, run_key=f"bench/{case}"
                )
            )
        total.add(
            import_scope(dsn, ACCOUNT_ENTITY_NAMES, shop_id=None, days_back=0, run_key="bench")
        )
        wall = time.perf_counter() - started
        return figures(
            case,
            shops=shops,
            days=days,
            processes=1,
            result=total,
            wall=wall,
            emulator_stats=common.emulator_stats(url),
        )


def concurrent_case(
    case: str,
    *,
    shops: int,
    days: int,
    drip: float | None,
    bucket: float | None,
    slots: int | None = None,
) -> dict[str, Any]:
    """One process per shop plus one for the account, released at the same instant, or
    `slots` at a time (an Airflow pool of that size): the next starts when one ends."""
    log_dir = common.RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        common.emulator(shops=shops, days=days + 1, drip_rate=drip, bucket_size=bucket) as url,
        common.throwaway_database() as dsn,
        tempfile.TemporaryDirectory(prefix="lightspeed-bench-api-") as tmp,
    ):
        env = common.child_env(**common.authorize(url, dsn))
        roles: list[list[str]] = [["--account"]]
        roles += [["--shop-id", str(shop)] for shop in range(1, shops + 1)]
        workers = [_start_worker(role, dsn, days, env, log_dir, Path(tmp)) for role in roles]
        try:
            _wait_ready(workers)
            common.reset_emulator(url)
            released = time.time()
            total = _release(workers, slots or len(workers))
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.kill()
                    worker.process.wait()
        out = figures(
            case,
            shops=shops,
            days=days,
            processes=len(workers),
            result=total,
            wall=total.finished_at - released,
            emulator_stats=common.emulator_stats(url),
        )
        out["at_once"] = slots or len(workers)
        return out


@dataclass
class Worker:
    """A child process of the concurrent cases. It talks through files, never a pipe it
    could fill: `ready` once warmed up, `go` from us, then its result as JSON."""

    name: str
    process: subprocess.Popen
    ready: Path
    go: Path
    result: Path
    log: Path


def _start_worker(
    role: list[str], dsn: str, days: int, env: dict[str, str], log_dir: Path, tmp: Path
) -> Worker:
    name = "account" if role == ["--account"] else f"shop{role[1]}"
    files = {kind: tmp / f"{name}.{kind}" for kind in ("ready", "go", "result")}
    log = log_dir / f"api_worker_{name}.log"
    argv = [sys.executable, "-m", "bench.api_efficiency", "--worker", *role]
    argv += ["--dsn", dsn, "--days-back", str(days), "--signal-dir", str(tmp), "--name", name]
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=common.REPO,
        )
    return Worker(name, process, files["ready"], files["go"], files["result"], log)


def _wait_ready(workers: Sequence[Worker]) -> None:
    """Every worker has imported everything and waits for its start signal."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    for worker in workers:
        while not worker.ready.exists():  # bounded by the deadline
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API worker {worker.name} did not get ready; see {worker.log}")
            time.sleep(0.05)


def _release(workers: Sequence[Worker], slots: int) -> ImportResult:
    """Start workers, at most `slots` running; collect every result."""
    waiting, running = list(workers), []
    total = ImportResult()
    while waiting or running:
        while waiting and len(running) < slots:
            worker = waiting.pop(0)
            worker.go.touch()
            running.append(worker)
        finished = [worker for worker in running if worker.process.poll() is not None]
        for worker in finished:
            running.remove(worker)
            total.add(_worker_result(worker))
        if not finished:
            time.sleep(0.01)  # polling the children, not the thing measured
    return total


def _worker_result(worker: Worker) -> ImportResult:
    if worker.process.returncode != 0 or not worker.result.exists():
        raise RuntimeError(
            f"API worker {worker.name} failed (exit {worker.process.returncode}); see {worker.log}"
        )
    data = json.loads(worker.result.read_text())
    traffic = Traffic(**data.pop("traffic"))
    return ImportResult(traffic=traffic, **data)


def worker(args: argparse.Namespace) -> int:
    """Child side of the concurrent cases: warm up, say ready, wait for go, import."""
    import lightspeed.extract  # noqa: F401 - import cost paid before the start signal
    import lightspeed.hook  # noqa: F401

    signals = Path(args.signal_dir)
    (signals / f"{args.name}.ready").touch()
    go, deadline = signals / f"{args.name}.go", time.monotonic() + WORKER_GO_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.005)
    if args.account:
        result = import_scope(
            args.dsn, ACCOUNT_ENTITY_NAMES, shop_id=None, days_back=0, run_key="bench/account"
        )
    else:
        result = import_scope(
            args.dsn,
            SHOP_ENTITY_NAMES,
            shop_id=args.shop_id,
            days_back=args.days_back,
            run_key=f"bench/shop{args.shop_id}",
        )
    (signals / f"{args.name}.result").write_text(json.dumps(asdict(result)))
    return 0


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    common.isolate_airflow()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default="small,large,concurrent,pool")
    parser.add_argument("--small-shops", type=int, default=3)
    parser.add_argument("--small-days", type=int, default=20)
    parser.add_argument("--large-shops", type=int, default=20)
    parser.add_argument("--large-days", type=int, default=14)
    parser.add_argument("--large-drip", type=float, default=10.0, help="drips per second")
    parser.add_argument("--concurrent-shops", type=int, default=20)
    parser.add_argument("--concurrent-days", type=int, default=3)
    parser.add_argument("--concurrent-drip", type=float, default=1.0)
    parser.add_argument(
        "--pool-slots", type=int, default=4, help="the `pool` case: processes at once"
    )
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shop-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--account", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--days-back", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--signal-dir", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    results: dict[str, Any] = {}
    print("API efficiency (wall time against the leaky-bucket bound)", flush=True)
    if "small" in cases:
        results["small"] = sequential_case(
            "small", shops=args.small_shops, days=args.small_days, drip=None, bucket=None
        )
    if "large" in cases:
        results["large"] = sequential_case(
            "large",
            shops=args.large_shops,
            days=args.large_days,
            drip=args.large_drip,
            bucket=None,
        )
    drip = None if args.concurrent_drip == 1.0 else args.concurrent_drip
    for case, slots in (("concurrent", None), ("pool", args.pool_slots)):
        if case in cases:
            results[case] = concurrent_case(
                case,
                shops=args.concurrent_shops,
                days=args.concurrent_days,
                drip=drip,
                bucket=None,
                slots=slots,
            )
    common.write_json(
        args.json,
        {"benchmark": "api_efficiency", "command": common.command_line(), "cases": results},
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
