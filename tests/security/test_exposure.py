"""Nothing listens beyond localhost unless configured, the emulator's control endpoints are off
unless asked for, and the OAuth callback only accepts the `state` it sent.

Listening addresses are read from /proc/net/tcp{,6} (what `ss -ltn` shows), so the tests see
the socket the kernel really bound, not what the code meant to bind.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lightspeed.auth import AuthorizationFailed, OAuthClient
from lightspeed.authorize import authorize, drive_login_form
from lightspeed.connection import LightspeedConnection
from lightspeed.errors import ConfigError
from lightspeed.token_store import TokenStore
from lightspeed_emulator.cli import build_parser, config_from_args
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

HTTP_TIMEOUT = 10
LOOPBACK = {"127.0.0.1", "::1"}
CONTROL = [
    ("get", "/_emulator/faults", None),
    ("post", "/_emulator/faults", {"add": "5xx:count=1"}),
    ("post", "/_emulator/clock", {"advance": 60}),
    ("post", "/_emulator/tokens/revoke", {}),
    ("post", "/_emulator/tokens/expire", {}),
    ("post", "/_emulator/mutate", {"entity": "Sale", "id": 1, "delete": True}),
    ("post", "/_emulator/stats/reset", {}),
]


def _hex_address(text: str) -> str:
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    packed = b"".join(words)
    if packed[:12] == b"\0" * 10 + b"\xff\xff":
        return ".".join(str(b) for b in packed[12:])
    groups = [f"{int.from_bytes(packed[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    return "::1" if groups == ["0"] * 7 + ["1"] else ":".join(groups)


def listening_on(port: int) -> set[str]:
    """Addresses with a TCP socket in LISTEN state on `port`."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(name)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:
                found.add(_hex_address(address))
    return found


@pytest.fixture(autouse=True)
def _needs_proc() -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")


def test_emulator_defaults_are_loopback_and_no_control() -> None:
    assert (EmulatorConfig().host, EmulatorConfig().control) == ("127.0.0.1", False)
    args = build_parser().parse_args(["serve", "--port", "0"])
    config = config_from_args(args)
    assert (config.host, config.control) == ("127.0.0.1", False)


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """`lightspeed-emulator serve --port 0` with its defaults, as a user starts it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lightspeed_emulator.cli", "serve", "--port", "0",
         "--shops", "1", "--days", "1", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line + process.stderr.read()
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=15)
        process.stdout.close()
        process.stderr.close()


def test_emulator_started_with_defaults_listens_on_loopback_only(emulator_process: str) -> None:
    port = urlsplit(emulator_process).port
    assert listening_on(port) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("method", "path", "body"), CONTROL, ids=[f"{m} {p}" for m, p, _ in CONTROL]
)
def test_emulator_control_endpoints_are_off_unless_asked_for(
    emulator_process: str, method: str, path: str, body: dict | None
) -> None:
    answer = requests.request(method, emulator_process + path, json=body, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 404
    stats = requests.get(emulator_process + "/_emulator/stats", timeout=HTTP_TIMEOUT)
    assert stats.status_code == 200  # the read-only stats stay on


def test_emulator_listens_beyond_loopback_only_when_told() -> None:
    with EmulatorServer(EmulatorConfig(host="0.0.0.0", shops=1, days=1)) as emulator:  # noqa: S104
        assert listening_on(emulator.port) == {"0.0.0.0"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(shops=1, days=1, control=True)) as server:
        yield server


def _connection(emulator: EmulatorServer, redirect_uri: str) -> LightspeedConnection:
    return LightspeedConnection(
        conn_id="lightspeed_default",
        client_id=emulator.config.client_id,
        client_secret=emulator.config.client_secret,
        api_base_url=emulator.url,
        oauth_base_url=emulator.url,
        redirect_uri=redirect_uri,
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_authorize_callback_listens_on_loopback_only(
    emulator: EmulatorServer, warehouse_dsn: str, host: str
) -> None:
    seen: list[set[str]] = []

    def browser(url: str) -> None:
        callback = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        seen.append(listening_on(urlsplit(callback).port))
        drive_login_form(url, "owner", "owner")

    result = authorize(
        _connection(emulator, f"http://{host}:0/callback"),
        warehouse=warehouse_dsn, port=0, open_browser=False, timeout=20,
        show=lambda _: None, on_url=browser,
    )  # fmt: skip
    assert result.account_id == emulator.config.account_id
    assert seen == [{"127.0.0.1"}]


def test_a_redirect_uri_off_this_machine_is_refused(emulator: EmulatorServer) -> None:
    with pytest.raises(ConfigError, match="is not on this machine"):
        authorize(
            _connection(emulator, "http://192.0.2.10:8765/callback"),
            port=0, open_browser=False, timeout=1, show=lambda _: None,
        )  # fmt: skip


def test_a_forged_callback_is_refused_and_its_code_never_exchanged(
    emulator: EmulatorServer, warehouse_dsn: str
) -> None:
    """An attacker's callback (their own code, a state they guessed) reaches the listener
    first: it is refused, no code is traded for tokens and nothing is stored."""
    before = emulator.stats.snapshot()["code_exchanges"]

    def attacker(url: str) -> None:
        callback = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        threading.Thread(
            target=requests.get,
            args=(callback,),
            kwargs={"params": {"code": "attacker-code", "state": "guessed"}, "timeout": 10},
            daemon=True,
        ).start()

    conn = _connection(emulator, "http://127.0.0.1:0/callback")
    with pytest.raises(AuthorizationFailed, match="state does not match"):
        authorize(
            conn, warehouse=warehouse_dsn, port=0, open_browser=False, timeout=20,
            show=lambda _: None, on_url=attacker,
        )  # fmt: skip
    assert emulator.stats.snapshot()["code_exchanges"] == before
    assert TokenStore.for_connection(conn, warehouse_dsn).load() is None


def test_state_is_fresh_and_unguessable(emulator: EmulatorServer) -> None:
    client = OAuthClient(_connection(emulator, "http://127.0.0.1:0/callback"))
    states = {client.authorization_url()[1] for _ in range(50)}
    assert len(states) == 50
    assert min(len(state) for state in states) >= 32  # >= 24 random bytes, url-safe base64
