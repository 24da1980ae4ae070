"""docker-compose.yaml, Dockerfile and .env.example checked without a Docker engine.

There is no Docker here, so these tests check what can go wrong without one: the file parses,
the CeleryExecutor pattern is complete, every mount, COPY source and ${VAR} resolves, and the
connections and settings the containers get are the ones the code reads (names imported from
the lightspeed modules, values parsed by the same code the DAGs run).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from lightspeed.config import CONFIG_ENV, AccountConfig
from lightspeed.connection import DEFAULT_CONN_ID, TOKEN_KEY_ENV, from_airflow_connection
from lightspeed.db import WAREHOUSE_CONN_ID

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
ONE_OFF_SERVICES = {"airflow-init", "airflow-cli"}
_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return _VAR.sub(replace, text)


def referenced_variables(text: str) -> set[str]:
    return {m.group("braced") or m.group("bare") for m in _VAR.finditer(text) if m.group(0) != "$$"}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def filled_env(env_example: dict[str, str]) -> dict[str, str]:
    """.env.example with every empty value filled in, as a user's .env would be."""
    return {key: value or f"test-{key.lower()}" for key, value in env_example.items()}


@pytest.fixture(scope="module")
def compose(filled_env: dict[str, str]) -> dict[str, Any]:
    """The compose file after interpolation with a filled-in .env (what `docker compose` sees)."""
    return yaml.safe_load(interpolate(COMPOSE.read_text(), filled_env))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_compose_file_parses_as_a_mapping_of_services() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    assert isinstance(document.get("services"), dict) and document["services"]


def test_celery_executor_pattern_is_complete(services: dict[str, dict[str, Any]]) -> None:
    expected = {"postgres", "redis", "warehouse", *AIRFLOW_SERVICES, *ONE_OFF_SERVICES, "emulator"}
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/"), name
        assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert (
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            == "http://airflow-apiserver:8080/execution/"
        )


def test_long_running_services_have_healthchecks_and_wait_for_init(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name in ONE_OFF_SERVICES:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "always", name
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "redis", "warehouse"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
    assert (
        services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"]
        == "service_healthy"
    )


def test_api_server_port_matches_its_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    api = services["airflow-apiserver"]
    published = [str(port).rsplit(":", 1)[-1] for port in api["ports"]]
    assert published == ["8080"]
    assert "http://localhost:8080/" in " ".join(api["healthcheck"]["test"])
    for port in api["ports"]:
        assert str(port).startswith("127.0.0.1:"), "publish on loopback only"


def test_emulator_is_an_optional_profile_whose_command_the_emulator_accepts(
    services: dict[str, dict[str, Any]],
) -> None:
    from lightspeed_emulator.cli import build_parser

    emulator = services["emulator"]
    assert emulator["profiles"] == ["emulator"]
    assert emulator["entrypoint"] == ["lightspeed-emulator"]
    args = build_parser().parse_args([str(part) for part in emulator["command"]])
    assert args.command == "serve" and args.host == "0.0.0.0" and args.control
    assert f":{args.port}" in " ".join(emulator["healthcheck"]["test"])
    for name, service in services.items():
        if name != "emulator":
            assert "emulator" not in (service.get("profiles") or []), name


def test_every_image_is_built_from_this_project(services: dict[str, dict[str, Any]]) -> None:
    built = {name: s for name, s in services.items() if "build" in s}
    assert set(AIRFLOW_SERVICES) | ONE_OFF_SERVICES | {"emulator"} <= set(built)
    images = {s["image"] for s in built.values()}
    assert len(images) == 1, f"one image for every project service, got {images}"
    for name, service in built.items():
        context = (
            service["build"] if isinstance(service["build"], str) else service["build"]["context"]
        )
        assert (REPO / context / "Dockerfile").is_file(), name
    for name in ("postgres", "warehouse"):
        assert services[name]["image"].startswith("postgres:"), name
    assert services["redis"]["image"].startswith("redis:")


def test_bind_mounts_point_at_repo_folders_and_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if source.startswith((".", "/")):
                assert (REPO / source).is_dir(), f"{name}: mount source {source} does not exist"
                assert target.startswith("/opt/airflow/"), (name, target)
            else:
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_settings_the_code_reads_point_into_mounted_folders(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = services["airflow-worker"]
    env = environment(worker)
    mounts = {
        target: REPO / source
        for source, target in (str(v).split(":")[:2] for v in worker["volumes"])
        if source.startswith(".")
    }

    def host_path(container_path: str) -> Path:
        for target, source in mounts.items():
            if container_path.startswith(target + "/"):
                return source / container_path[len(target) + 1 :]
        raise AssertionError(f"{container_path} is not under a mounted folder")

    assert host_path(env["LIGHTSPEED_SQL_DIR"]).joinpath("ddl").is_dir()
    assert host_path(env[CONFIG_ENV]).parent.is_dir()
    assert TOKEN_KEY_ENV in env
    assert host_path("/opt/airflow/dags/x").parent == REPO / "dags"
    assert host_path("/opt/airflow/plugins/x").parent == REPO / "plugins"


def test_connections_are_the_ones_the_code_expects(services: dict[str, dict[str, Any]]) -> None:
    from airflow.models.connection import Connection

    env = environment(services["airflow-worker"])
    lightspeed = json.loads(env[f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}"])
    conn = Connection(
        conn_id=DEFAULT_CONN_ID, **{**lightspeed, "extra": json.dumps(lightspeed["extra"])}
    )
    parsed = from_airflow_connection(conn, DEFAULT_CONN_ID)
    assert parsed.client_id == "test-lightspeed_client_id"
    assert parsed.api_base_url == "https://api.lightspeedapp.com"
    assert parsed.oauth_base_url == "https://cloud.lightspeedapp.com"
    assert parsed.redirect_uri == "http://127.0.0.1:8765/callback"
    assert parsed.encryption_key_source == "client_secret" or TOKEN_KEY_ENV in env

    warehouse = json.loads(env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"])
    db_env = environment(services[warehouse["host"]])
    assert warehouse["conn_type"] == "postgres"
    assert warehouse["login"] == db_env["POSTGRES_USER"]
    assert warehouse["password"] == db_env["POSTGRES_PASSWORD"]
    assert warehouse["schema"] == db_env["POSTGRES_DB"]


def test_same_settings_in_every_airflow_container(services: dict[str, dict[str, Any]]) -> None:
    reference = environment(services["airflow-scheduler"])
    for name in [*AIRFLOW_SERVICES, *ONE_OFF_SERVICES]:
        env = environment(services[name])
        for key in (
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__CORE__FERNET_KEY",
            "LIGHTSPEED_TOKEN_KEY",
        ):
            assert env[key] == reference[key], (name, key)


def test_init_creates_the_account_pool_and_migrates_the_warehouse(
    services: dict[str, dict[str, Any]],
) -> None:
    from lightspeed.cli import build_parser

    script = "\n".join(services["airflow-init"]["command"])
    pool = AccountConfig(DEFAULT_CONN_ID, ()).pool
    pool_lines = [line for line in script.splitlines() if "airflow pools set" in line]
    assert [shlex.split(line)[3] for line in pool_lines] == [pool]
    assert "airflow db migrate" in script
    assert "lightspeed migrate" in script
    assert build_parser().parse_args(["migrate"]).command == "migrate"


def test_every_referenced_variable_is_documented_in_env_example(
    env_example: dict[str, str],
) -> None:
    missing = referenced_variables(COMPOSE.read_text()) - set(env_example)
    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_no_secret_is_written_in_the_compose_file() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    secretish = re.compile(r"(PASSWORD|SECRET|FERNET|TOKEN_KEY|JWT)", re.I)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{path}.{key}"
                if secretish.search(str(key)) and isinstance(value, str):
                    assert value.startswith("${") or value.startswith("/"), f"{here} = {value!r}"
                walk(value, here)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(document, "")
    for key, value in json.loads(_raw_conn_json("AIRFLOW_CONN_LIGHTSPEED_DEFAULT")).items():
        if key == "password":
            assert value.startswith("${"), "the client secret must come from .env"


def _raw_conn_json(name: str) -> str:
    raw = yaml.safe_load(COMPOSE.read_text())["x-airflow-common"]["environment"][name]
    # Only to read the JSON's shape: the ${...} placeholders stay as text.
    return raw


def test_env_example_ships_no_secret_values(env_example: dict[str, str]) -> None:
    for key in (
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "LIGHTSPEED_CLIENT_SECRET",
        "LIGHTSPEED_TOKEN_KEY",
    ):
        assert env_example[key] == "", f"{key} must be empty in .env.example"


def test_dockerfile_builds_from_airflow_3_3_2_and_copies_existing_paths() -> None:
    lines = _dockerfile_instructions()
    base = [args for op, args in lines if op == "FROM"]
    assert base == ["apache/airflow:3.3.2-python3.11"]
    locked = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.lock").read_text(), re.M)
    assert locked and base[0].split(":")[1].startswith(locked.group(1) + "-")
    copied: dict[str, str] = {}
    for op, args in lines:
        if op == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            *sources, destination = parts
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} does not exist"
                copied[source.rstrip("/")] = destination
    for folder in (
        "dags",
        "plugins",
        "include",
        "lightspeed_emulator",
        "requirements.lock",
        "pyproject.toml",
    ):
        assert folder in copied, f"the image must contain {folder}"
    for folder in ("dags", "plugins", "include"):
        assert copied[folder].rstrip("/") == f"/opt/airflow/{folder}"
    runs = " ".join(args for op, args in lines if op == "RUN")
    assert "-r /opt/airflow/requirements.lock" in runs
    assert "-e /opt/airflow" in runs


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", ".demo", ".git"} <= ignored
    assert not {"dags", "plugins", "include"} & ignored


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(
            line
            for line in DOCKERFILE.read_text().splitlines()
            if not line.lstrip().startswith("#")
        ),
    )
    instructions = []
    for line in text.splitlines():
        if line.strip():
            op, _, args = line.strip().partition(" ")
            instructions.append((op.upper(), args.strip()))
    return instructions
