"""Run every benchmark and put their figures side by side (`make bench`, `make bench-smoke`).

Each benchmark runs as its own process (`python -m bench.<module> --json ...`), so one
benchmark's imports, caches and memory never colour another's figures. The figures go to
`bench/results/results.json` (everything each benchmark reported) and
`bench/results/results.md` (the tables docs/benchmarks.md and the README quote), each
figure with the command that produced it.

    .venv/bin/python -m bench.run                    # full sizes, ~12 minutes on 2 cores
    .venv/bin/python -m bench.run --smoke            # tiny sizes, ~30 s (what CI runs)
    .venv/bin/python -m bench.run --only load,parse  # some of them
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import common

# name -> (module, full-size arguments, smoke arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "api": (
        "bench.api_efficiency",
        # small: 3 shops x 20 days at 1/s; large: 20 x 14 at 10/s; concurrent and pool
        # (4 at once): 20 shops x 3 days + the account, 21 processes, at 1/s
        [],
        ["--cases", "small,concurrent,pool", "--small-shops", "1", "--small-days", "1"]
        + ["--concurrent-shops", "2", "--concurrent-days", "1", "--concurrent-drip", "50"]
        + ["--pool-slots", "2"],
    ),
    "load": ("bench.load_throughput", [], ["--lines", "2000", "--rerun-lines", "1000"]),
    "aggregates": (
        "bench.aggregates_rebuild",
        [],  # 50 shops, 1M sale lines, 90 days
        ["--shops", "3", "--lines", "5000", "--days", "7"],
    ),
    "parse": ("bench.dag_parse", [], ["--shops", "10"]),
    "memory": ("bench.memory", [], ["--sales", "300,600"]),
}


def run_one(name: str, smoke: bool, out_dir: Path, quiet: bool) -> dict[str, Any]:
    """One benchmark in its own process; its JSON figures, or why it failed."""
    module, full, small = BENCHMARKS[name]
    target = out_dir / f"{name}.json"
    target.unlink(missing_ok=True)
    argv = [sys.executable, "-m", module, *(small if smoke else full), "--json", str(target)]
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and modules
        argv,
        cwd=common.REPO,
        env=common.child_env(PYTHONUNBUFFERED="1"),
        capture_output=quiet,
        text=True,
        check=False,
    )
    seconds = round(time.perf_counter() - started, 1)
    if quiet:
        print(f"[{name}] {seconds} s\n{_figure_lines(done.stdout)}", flush=True)
    if done.returncode != 0 or not target.exists():
        error = (done.stderr or "")[-2000:] if quiet else "see the output above"
        return {"ok": False, "seconds": seconds, "returncode": done.returncode, "error": error}
    return {"ok": True, "seconds": seconds, **json.loads(target.read_text())}


def _figure_lines(output: str | None) -> str:
    """The benchmark's own summary lines (product logs left out)."""
    lines = (output or "").splitlines()
    return "\n".join(line for line in lines if not line.startswith("20") and line.strip())


# --------------------------------------------------------------------------- Markdown


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _processes(case: dict[str, Any]) -> str:
    at_once = case.get("at_once")
    if at_once and at_once != case["processes"]:
        return f"{case['processes']}, {at_once} at once"
    return str(case["processes"])


def md_api(data: dict[str, Any]) -> list[str]:
    rows = []
    for case in data["cases"].values():
        rows.append(
            [
                case["case"],
                f"{case['shops']} × {case['days']}",
                _processes(case),
                f"{case['drip_rate']:g}/s, {case['bucket_size']:g}",
                _num(case["records"]),
                _num(case["requests"]),
                case["requests_per_1000_records"],
                case["throttled_429"],
                _num(case["cost"], 1),
                _num(case["bound_s"], 1),
                _num(case["wall_s"], 1),
                case["wall_over_bound"] if case["wall_over_bound"] is not None else "–",
            ]
        )
    return _table(
        [
            "case",
            "shops × days",
            "processes",
            "drip, bucket",
            "records",
            "requests",
            "requests / 1,000 records",
            "429s",
            "Σ cost",
            "bound (s)",
            "wall (s)",
            "wall / bound",
        ],
        rows,
    )


def md_load(data: dict[str, Any]) -> list[str]:
    rows = []
    for key, result in data["passes"].items():
        product = result["product"]
        for method in ("insert_rows", "executemany"):
            if method not in result:
                continue
            naive = result[method]
            rows.append(
                [
                    key.replace("_", " "),
                    _num(product["sale_lines"]),
                    _num(product["rows"]),
                    _num(product["rows_per_s"]),
                    f"{product['copy_s']} + {product['upsert_s']}",
                    method,
                    _num(naive["rows_per_s"]),
                    f"{naive['ratio']} ×",
                ]
            )
    return _table(
        [
            "pass",
            "sale lines",
            "rows",
            "COPY+upsert rows/s",
            "COPY s + upsert s",
            "naive",
            "naive rows/s",
            "ratio",
        ],
        rows,
    )


def md_aggregates(data: dict[str, Any]) -> list[str]:
    rows = [
        [
            r["label"],
            _num(r["total_s"], 2),
            r["median_ms_per_shop"],
            r["max_ms_per_shop"],
            _num(r["buckets"]),
        ]
        for r in data["rebuilds"].values()
    ]
    head = [
        f"{data['shops']} shops, {_num(data['sale_lines'])} sale lines, {_num(data['sales'])} "
        f"sales, {data['days']} days; aggregates equal staging: "
        f"{data['check_aggregates_equal_staging']}",
        "",
    ]
    return head + _table(
        ["rebuild, all shops", "total (s)", "median ms/shop", "max ms/shop", "buckets"], rows
    )


def md_parse(data: dict[str, Any]) -> list[str]:
    rows = [
        [
            _num(r["shops"]),
            f"{r['ours']['dags']} / {r['ours']['tasks']}",
            f"{r['ours']['wall_s']:.2f} / {r['ours']['cpu_s']:.2f}",
            f"{r['dagfactory']['wall_s']:.2f} / {r['dagfactory']['cpu_s']:.2f}",
            f"{r['ratio_cpu']} ×",
            "yes" if r["same_shape"] else f"no: {r['shape_diffs'][:1]}",
            _num(r["ours"]["peak_rss_mib"]) + " / " + _num(r["dagfactory"]["peak_rss_mib"]),
        ]
        for r in data["sizes"]
    ]
    return _table(
        [
            "shops",
            "DAGs / tasks",
            "ours wall / CPU (s)",
            "dag-factory wall / CPU (s)",
            "dag-factory / ours (CPU)",
            "same DAGs",
            "peak RSS MiB ours / d-f",
        ],
        rows,
    )


def md_memory(data: dict[str, Any]) -> list[str]:
    rows = [
        [
            _num(r["sales"]),
            _num(r["rows"]),
            r["pages"],
            r["seconds"],
            r["baseline_rss_mib"],
            r["peak_rss_mib"],
            r["growth_mib"],
        ]
        for r in data["sizes"]
    ]
    tail = []
    if data.get("peak_ratio_largest_to_smallest"):
        tail = ["", f"Peak RSS, largest / smallest: {data['peak_ratio_largest_to_smallest']} ×"]
    return (
        _table(
            [
                "sales",
                "staged rows",
                "pages",
                "seconds",
                "RSS after imports (MiB)",
                "peak RSS (MiB)",
                "growth (MiB)",
            ],
            rows,
        )
        + tail
    )


RENDER: dict[str, tuple[str, Callable[[dict[str, Any]], list[str]]]] = {
    "api": ("API efficiency against the leaky-bucket bound", md_api),
    "load": ("Staging load: COPY + upsert against DbApiHook.insert_rows", md_load),
    "aggregates": ("Aggregate rebuilds", md_aggregates),
    "parse": ("DAG parse time: dags/lightspeed_shops.py against dag-factory", md_parse),
    "memory": ("Peak memory of one shop's extraction", md_memory),
}


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"# Benchmark results ({results['mode']})",
        "",
        f"{machine['at']}, {machine['cpus']} CPUs, Python {machine['python']}, PostgreSQL "
        f"{machine['postgresql']}, load average at start {machine['load_average_1m']}; "
        f"{results['total_s']} s in all.",
    ]
    for name, data in results["benchmarks"].items():
        title, render = RENDER[name]
        lines += ["", f"## {title}", ""]
        if not data.get("ok"):
            lines.append(f"FAILED (exit {data.get('returncode')}): {data.get('error', '')}")
            continue
        lines += render(data)
        lines += ["", f"`{data['command']}` ({data['seconds']} s)"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    common.isolate_airflow()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks, not figures")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--output", default=str(common.RESULTS_DIR), help="results folder")
    parser.add_argument(
        "--jobs", type=int, default=1, help="benchmarks at once (figures are only clean with 1)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(BENCHMARKS)).split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    out_dir = Path(args.output)
    raw_dir = out_dir / ("smoke" if args.smoke else "full")
    raw_dir.mkdir(parents=True, exist_ok=True)

    mode = "smoke" if args.smoke else "full"
    results: dict[str, Any] = {"mode": mode, "machine": common.machine(), "benchmarks": {}}
    started = time.perf_counter()
    quiet = args.jobs > 1
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {name: pool.submit(run_one, name, args.smoke, raw_dir, quiet) for name in names}
        for name in names:
            results["benchmarks"][name] = futures[name].result()
    results["total_s"] = round(time.perf_counter() - started, 1)

    suffix = "" if mode == "full" else "-smoke"
    (out_dir / f"results{suffix}.json").write_text(
        json.dumps(results, indent=2, default=str) + "\n"
    )
    text = markdown(results)
    (out_dir / f"results{suffix}.md").write_text(text)
    print("\n" + text)
    print(f"Written: {out_dir / f'results{suffix}.md'} and .json", flush=True)
    failed = [name for name, data in results["benchmarks"].items() if not data.get("ok")]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
