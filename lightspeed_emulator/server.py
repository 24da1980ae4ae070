"""`EmulatorServer`: the emulator on a real port, in a background thread, as a context manager.

Tests, the demo and the benchmarks talk to it over real HTTP exactly as the hook talks to
Lightspeed, while keeping in-process handles (`.oauth`, `.clock`, `.faults`, ...) to expire
tokens or move the data clock without going through the control endpoints.

    with EmulatorServer(EmulatorConfig(shops=2)) as emulator:
        requests.get(f"{emulator.url}/API/V3/Account.json", headers=..., timeout=10)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from lightspeed_emulator.app import EmulatorState, ResourceBackend, create_app
from lightspeed_emulator.bucket import BucketRegistry
from lightspeed_emulator.clock import DataClock
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.faults import FaultInjector
from lightspeed_emulator.oauth import OAuthServer
from lightspeed_emulator.stats import Stats

log = logging.getLogger(__name__)
STARTUP_TIMEOUT = 15.0


def _default_resources(config: EmulatorConfig, clock: DataClock) -> ResourceBackend:
    # Imported late so the HTTP side can be built and tested while the data side is swapped.
    from lightspeed_emulator.resources import ResourceAPI

    return ResourceAPI(config, clock)


def _bound_socket(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so port 0 yields a known port with no race."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without
    # it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """The emulator served by uvicorn on `config.host` and `config.port` (0 = a free port)."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        resources: ResourceBackend | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        log_level: str = "warning",
    ) -> None:
        """Build every part; nothing listens until `start()` (or `with`).

        Args:
            config: every option; defaults to `EmulatorConfig()`.
            resources: the data side; defaults to `ResourceAPI(config, clock)`.
            monotonic: the bucket's clock (real seconds), injectable for unit tests.
            now: the OAuth server's wall clock (token and code expiry), injectable.
            log_level: uvicorn's log level.

        Raises:
            FaultSpecError: a spec in `config.faults` is invalid.
        """
        self.config = config or EmulatorConfig()
        # Faults first: a typo in a spec should fail before seconds of data generation.
        self.faults = FaultInjector(self.config.faults, seed=self.config.seed)
        self.clock = DataClock(self.config.now, self.config.clock_speed)
        self.resources = resources or _default_resources(self.config, self.clock)
        self.oauth = OAuthServer(self.config, now=now)
        self.buckets = BucketRegistry(
            self.config.effective_bucket_size, self.config.effective_drip_rate, monotonic
        )
        self.stats = Stats()
        self.app_state = EmulatorState(
            self.config,
            self.clock,
            self.resources,
            self.oauth,
            self.buckets,
            self.faults,
            self.stats,
        )
        self.app = create_app(self.app_state)
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:43123` (a wildcard host is shown as loopback)."""
        if self.port is None:
            raise RuntimeError("The emulator is not running: call start() or use `with`.")
        host = self.config.host
        if host in {"0.0.0.0", "", "::"}:  # noqa: S104 - only mapping a bind address to a URL
            host = "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Start serving in a daemon thread and return once the socket accepts connections.

        Raises:
            OSError: the port is taken.
            RuntimeError: uvicorn did not come up within STARTUP_TIMEOUT seconds.
        """
        if self._thread is not None:
            raise RuntimeError("The emulator is already running.")
        sock = _bound_socket(self.config.host, self.config.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level=self._log_level,
            access_log=False,  # uvicorn's line shows query strings; ours does not
            date_header=False,  # the app stamps the data clock instead
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"lightspeed-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_started()
        log.info("Lightspeed emulator listening on %s", self.url)
        return self

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        finally:
            sock.close()

    def _wait_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        # Polling a flag uvicorn sets is the only readiness signal it offers.
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(
                    "The emulator's server thread stopped during startup; see the log."
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The emulator did not start within {STARTUP_TIMEOUT:.0f} s.")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT)
        self._thread = None
        self._server = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
