"""The local set-up shared by `make demo`, `make airflow`, the benchmarks and the e2e tests.

Everything lives in one folder of the repo (`.demo/` by default) so a demo can be inspected,
re-run and thrown away (`make clean`): a PostgreSQL cluster when none answers on
127.0.0.1:5432, the Airflow home (metadata in a PostgreSQL database, connections as
`AIRFLOW_CONN_*` JSON, the account pool), the emulator, logs.

Every child process runs in its own session and is stopped by process group, newest first,
when the `Processes` context exits (also on Ctrl-C or an error): killing only a parent PID
would orphan what it forked (Airflow's scheduler and api-server fork workers).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg2
import psycopg2.extensions
import requests
from psycopg2 import sql

from lightspeed.connection import DEFAULT_CONN_ID
from lightspeed.db import WAREHOUSE_CONN_ID
from lightspeed.errors import LightspeedError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / ".demo"
DEFAULT_PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AIRFLOW_ADMIN_USER = "admin"
HTTP_TIMEOUT = 10.0
API_TIMEOUT = 30.0  # Airflow's api-server on a loaded 2-core machine can be slow to answer
# Slots of the account pool: a few API tasks at once, well inside one rate-limit bucket.
POOL_SLOTS = 4


class LocalEnvError(LightspeedError):
    """The local set-up could not start one of its parts; the message says which log to read."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` or when `alive` turns false.

    Polling is the only readiness signal PostgreSQL, uvicorn and Airflow's daemons offer.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if alive is not None and not alive():
            raise LocalEnvError(f"{what}: the process exited during start-up.")
        if time.monotonic() > deadline:
            raise LocalEnvError(f"{what}: not ready after {timeout:.0f} s.")
        time.sleep(interval)


def wait_for_child(child: Child, check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """`wait_until` for a child process; a failure message ends with the child's log."""
    try:
        wait_until(check, timeout=timeout, what=what, interval=0.2, alive=child.alive)
    except LocalEnvError as exc:
        raise LocalEnvError(
            f"{exc} Its log ({child.log_path}) ends with:\n{child.log_tail()}"
        ) from None


# --------------------------------------------------------------------------- processes


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    stop_signal: int = signal.SIGTERM

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """Child processes, each in its own session; stopped by process group, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Child:
        """Start `argv` with stdout and stderr in `<log_dir>/<name>.log` (truncated)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - argv built by this module, never a shell
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                user=user,
                start_new_session=True,
            )
        child = Child(name, process, log_path, stop_signal)
        self.children.append(child)
        log.debug("started %s (pid %s), log %s", name, process.pid, log_path)
        return child

    def stop(self, child: Child, timeout: float = 20.0) -> None:
        """Signal the child's whole process group; SIGKILL what is left after `timeout`."""
        pgid = child.process.pid  # the child leads its own session, so pid == pgid
        if child.alive():
            _signal_group(pgid, child.stop_signal)
            try:
                child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                child.process.wait(timeout=5)
        # Grandchildren may outlive their parent in the same group (task runners, workers).
        _signal_group(pgid, signal.SIGKILL)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            try:
                self.stop(child)
            except Exception:  # one stuck child must not keep the others running
                log.exception("could not stop %s", child.name)

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def raise_on_sigterm() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into KeyboardInterrupt so `finally` blocks stop the children.

    SIGINT too: a process started in the background by a shell inherits SIGINT ignored, and
    Python then never installs its own Ctrl-C handler.
    """

    def _handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGHUP, _handler)


# --------------------------------------------------------------------------- PostgreSQL


def postgres_answers(dsn: str, timeout: int = 2) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=timeout).close()
    except psycopg2.OperationalError:
        return False
    return True


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<ver>/bin with initdb (Debian keeps them off PATH)."""
    candidates = [
        Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()
    ]
    if not candidates:
        found = shutil.which("initdb")
        if found:
            return Path(found).parent
        raise LocalEnvError(
            "No PostgreSQL answers on 127.0.0.1:5432 and no PostgreSQL binaries were found "
            "(/usr/lib/postgresql/*/bin). Start a PostgreSQL server or install one "
            "(e.g. `apt-get install postgresql`)."
        )
    return max(candidates, key=lambda p: _version_key(p.parent.name))


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def start_postgres(pg_dir: Path, processes: Processes, *, port: int | None = None) -> str:
    """Start a throwaway cluster in `pg_dir` (initdb once) on a free port; return its admin DSN.

    initdb and postgres refuse to run as root, so as root they run as the `postgres` user.
    """
    bin_dir = postgres_bin_dir()
    data = pg_dir / "data"
    run_dir = pg_dir / "run"
    user = "postgres" if os.geteuid() == 0 else None
    for folder in (pg_dir, run_dir):
        folder.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(folder, user)
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)  # a half-made cluster from an interrupted initdb
        initdb = subprocess.run(  # noqa: S603
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            user=user,
        )
        if initdb.returncode != 0:
            raise LocalEnvError(f"initdb failed in {data}:\n{initdb.stderr[-2000:]}")
    port = port or free_port()
    child = processes.start(
        "postgres",
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={run_dir}",
            "-c",
            "max_connections=200",
        ],
        user=user,
        stop_signal=signal.SIGINT,  # "fast" shutdown: disconnects clients, then stops
    )
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    wait_for_child(child, lambda: postgres_answers(dsn, timeout=1), timeout=60, what="PostgreSQL")
    return dsn


def ensure_postgres(pg_dir: Path, processes: Processes, admin_dsn: str | None = None) -> str:
    """The admin DSN of a PostgreSQL that answers: the given/default one, else one we start."""
    admin_dsn = admin_dsn or os.environ.get("LIGHTSPEED_PG_ADMIN_DSN") or DEFAULT_PG_ADMIN_DSN
    if postgres_answers(admin_dsn):
        return admin_dsn
    log.info("No PostgreSQL answers at %s: starting one in %s", _safe_dsn(admin_dsn), pg_dir)
    return start_postgres(pg_dir, processes)


def dsn_for(admin_dsn: str, database: str) -> str:
    return admin_dsn.rsplit("/", 1)[0] + "/" + database


def ensure_database(admin_dsn: str, name: str, *, recreate: bool = False) -> str:
    """Create database `name` when missing (drop it first when `recreate`); return its DSN."""
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if recreate:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return dsn_for(admin_dsn, name)


def migrate_warehouse(dsn: str) -> list[int]:
    """Apply the warehouse migrations (the same code the DAGs' ensure_schema task runs)."""
    from lightspeed.migrate import migrate

    conn = psycopg2.connect(dsn)
    try:
        return migrate(conn)
    finally:
        conn.close()


def postgres_conn_json(dsn: str) -> str:
    """An Airflow connection (JSON) for a libpq URL such as postgresql://user@host:port/db."""
    parts = urlsplit(dsn)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "login": parts.username or "postgres",
            "password": parts.password or "",
            "schema": parts.path.lstrip("/"),
        }
    )


def _safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    parts = urlsplit(dsn)
    if not parts.password:
        return dsn
    return dsn.replace(f":{parts.password}@", ":***@")


# --------------------------------------------------------------------------- emulator


@dataclass(frozen=True)
class EmulatorOptions:
    seed: int = 42
    shops: int = 3
    days: int = 3
    now: str | None = None  # ISO-8601: pins the data clock's start
    clock_speed: float = 1.0  # 0 freezes the data clock (an exact replay)
    sales_per_day: int | None = None
    control: bool = True
    extra_args: tuple[str, ...] = ()

    def argv(self, port: int) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "lightspeed_emulator.cli",
            "serve",
            "--port",
            str(port),
            "--seed",
            str(self.seed),
            "--shops",
            str(self.shops),
            "--days",
            str(self.days),
            "--log-level",
            "warning",
        ]
        if self.now:
            argv += ["--now", self.now]
        if self.clock_speed != 1.0:
            argv += ["--clock-speed", str(self.clock_speed)]
        if self.sales_per_day is not None:
            argv += ["--sales-per-day", str(self.sales_per_day)]
        if self.control:
            argv.append("--control")
        return argv + list(self.extra_args)


def start_emulator(
    processes: Processes, options: EmulatorOptions, *, port: int | None = None
) -> str:
    """Start `lightspeed-emulator serve` as a child process; return its base URL once it answers."""
    port = port or free_port()
    child = processes.start("emulator", options.argv(port))
    url = f"http://127.0.0.1:{port}"
    wait_for_child(
        child,
        lambda: "listening on" in _read(child.log_path),
        timeout=60,
        what="The Lightspeed emulator",
    )
    return url


def emulator_clock(
    url: str, *, advance_seconds: float | None = None, set_to: str | None = None
) -> str:
    """Move the emulator's data clock (needs --control); return its new time (Date header)."""
    body: dict[str, Any] = (
        {"advance": advance_seconds} if advance_seconds is not None else {"set": set_to}
    )
    response = requests.post(f"{url}/_emulator/clock", json=body, timeout=HTTP_TIMEOUT)
    if response.status_code >= 400:
        raise LocalEnvError(
            f"The emulator refused to move its clock ({response.status_code}): start it with --control."
        )
    return response.headers.get("Date", "")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- Airflow


@dataclass(frozen=True)
class AirflowSettings:
    """What differs between the demo, `make airflow` and the Celery e2e test."""

    home: Path
    metadata_dsn: str  # a libpq URL of the PostgreSQL database holding Airflow's metadata
    api_port: int
    shops_config: Path
    warehouse_dsn: str
    lightspeed_conn: Mapping[str, Any]  # the lightspeed_default connection as a JSON object
    executor: str = "LocalExecutor"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_server_port: int = field(default_factory=free_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def lightspeed_conn_for_emulator(
    emulator_url: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str | None = None,
) -> dict[str, Any]:
    """The `lightspeed_default` connection pointing both the API and OAuth at the emulator."""
    extra: dict[str, Any] = {"oauth_base_url": emulator_url}
    if redirect_uri:
        extra["redirect_uri"] = redirect_uri
    return {
        "conn_type": "lightspeed",
        "login": client_id,
        "password": client_secret,
        "host": emulator_url,
        "extra": extra,
    }


def _persistent_secrets(home: Path) -> dict[str, str]:
    """Fernet key, JWT and API secrets, made once per Airflow home and reused by every process.

    Every component must share the JWT secret (the scheduler signs what the api-server checks);
    left to Airflow, each process could generate its own.
    """
    from cryptography.fernet import Fernet

    path = home / "lightspeed_secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
    }
    home.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(json.dumps(values))
    return values


def airflow_env(settings: AirflowSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every Airflow command and daemon of this set-up runs with."""
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))]:
        del env[key]  # a caller's settings (e.g. a test's) must not leak into this Airflow
    keys = _persistent_secrets(settings.home)
    metadata = "postgresql+psycopg2://" + settings.metadata_dsn.split("://", 1)[1]
    env.update(
        {
            "AIRFLOW_HOME": str(settings.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": settings.executor,
            # LocalExecutor pre-forks `parallelism` workers (~40 MiB each): 32 is too many here.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_ADMIN_USER}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(settings.api_port),
            "AIRFLOW__API__BASE_URL": settings.api_url,
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            # New or edited DAG files show up within seconds, not minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # Fixed ports (8793 for task logs) would clash with a second set-up on the machine.
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.log_server_port),
            "AIRFLOW_CONN_" + DEFAULT_CONN_ID.upper(): json.dumps(dict(settings.lightspeed_conn)),
            "AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper(): postgres_conn_json(settings.warehouse_dsn),
            "LIGHTSPEED_SHOPS_CONFIG": str(settings.shops_config),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(settings.extra_env)
    return env


def airflow_argv(args: Sequence[str]) -> list[str]:
    """`airflow ARGS` from this interpreter's environment (the venv's console script)."""
    return [str(Path(sys.executable).parent / "airflow"), *args]


# `airflow db migrate` then `airflow pools import` in one interpreter: each airflow CLI call
# pays ~5-10 s of start-up on two cores.
_PREPARE_SCRIPT = """
import json, sys
from airflow.models.pool import Pool
from airflow.utils import db

db.upgradedb()
for name, (slots, description) in json.loads(sys.argv[1]).items():
    Pool.create_or_update_pool(name=name, slots=slots, description=description, include_deferred=False)
"""


def prepare_airflow(
    settings: AirflowSettings, env: Mapping[str, str], pools: Iterable[str]
) -> None:
    """Migrate the metadata database and create the account pools (both idempotent)."""
    wanted = {
        name: (POOL_SLOTS, "Lightspeed API calls of one account (one rate-limit bucket)")
        for name in pools
    }
    log_path = settings.home / "logs" / "prepare.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _PREPARE_SCRIPT, json.dumps(wanted)],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        start_new_session=True,
    )
    log_path.write_text(result.stdout)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-15:])
        raise LocalEnvError(
            f"Migrating Airflow's metadata database failed (full output: {log_path}):\n{tail}"
        )


def start_airflow(
    processes: Processes,
    settings: AirflowSettings,
    env: Mapping[str, str],
    components: Sequence[str] = ("api-server", "scheduler", "dag-processor"),
    *,
    timeout: float = 120,
) -> None:
    """Start Airflow's daemons (each its own process group) and wait until the API is healthy."""
    children = []
    for component in components:
        argv = airflow_argv(component.split())
        if component == "api-server":
            argv += ["--port", str(settings.api_port), "--host", "127.0.0.1"]
        name = "airflow-" + component.split(" -")[0].strip().replace(" ", "-")
        children.append(processes.start(name, argv, env=env))
    api = next((c for c in children if c.name == "airflow-api-server"), None)
    if api is not None:
        wait_for_child(
            api,
            lambda: _api_healthy(settings.api_url),
            timeout=timeout,
            what="Airflow's api-server",
        )
    for child in children:
        if not child.alive():
            raise LocalEnvError(f"{child.name} exited; see {child.log_path}:\n{child.log_tail()}")


def _api_healthy(api_url: str) -> bool:
    try:
        response = requests.get(f"{api_url}/api/v2/monitor/health", timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200


def admin_password(home: Path, timeout: float = 30) -> str:
    """The SimpleAuthManager password the api-server generated for the admin user."""
    path = home / "simple_auth_manager_passwords.json.generated"
    wait_until(path.exists, timeout=timeout, what=f"Airflow's password file {path}")
    return json.loads(path.read_text())[AIRFLOW_ADMIN_USER]


class AirflowAPI:
    """The few REST calls the demo UI mode and the e2e test need (Airflow 3 public API v2)."""

    def __init__(self, api_url: str, username: str, password: str) -> None:
        self.api_url = api_url
        self.session = requests.Session()
        response = self.session.post(
            f"{api_url}/auth/token",
            json={"username": username, "password": password},
            timeout=API_TIMEOUT,
        )
        if response.status_code >= 400:
            raise LocalEnvError(
                f"Airflow refused the login of {username!r} ({response.status_code})."
            )
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(
            method, f"{self.api_url}/api/v2{path}", timeout=API_TIMEOUT, **kwargs
        )
        if response.status_code >= 400:
            raise LocalEnvError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def dag_exists(self, dag_id: str) -> bool:
        try:
            response = self.session.get(
                f"{self.api_url}/api/v2/dags/{quote(dag_id)}", timeout=API_TIMEOUT
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/dags/{quote(dag_id)}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Run now: a manual run; `logical_date` must be present (null) in Airflow 3."""
        body = self._call(
            "POST",
            f"/dags/{quote(dag_id)}/dagRuns",
            json={"logical_date": None, "conf": dict(conf or {})},
        )
        return body["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._call("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances"
        return self._call("GET", path)["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Wait until the run is finished; return its final state.

        A busy api-server (scheduler, worker and tasks share two cores) may not answer one
        poll in time: that poll is skipped, not fatal.
        """
        states: dict[str, str] = {}

        def finished() -> bool:
            try:
                states["last"] = self.run_state(dag_id, run_id)
            except requests.RequestException:
                return False
            return states["last"] in {"success", "failed"}

        wait_until(finished, timeout=timeout, what=f"DAG run {dag_id}/{run_id}", interval=1.0)
        return states["last"]
