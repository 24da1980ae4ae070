"""Fault injection: the failures a real Lightspeed integration meets, on demand.

A fault spec is `kind[:key=value]...`, given on the command line (`--fault`, repeatable),
in `EmulatorConfig.faults`, or at run time through `POST /_emulator/faults`. Faults act on
resource-API requests only (`/API/...`), never on OAuth or control endpoints, so a client
always has a way to recover.

Kinds:
    5xx           answer 500/502/503 (`status=500|502|503|any`, default 500)
    429           answer 429 with `Retry-After` (`retry_after=1`)
    try-later     answer 400 "Please try again later." (alias `400`)
    slow          wait `seconds=2` before answering (adds to any other fault)
    drop          send the headers and part of a chunked body, then close the connection
    truncate      `mode=json` (default): a complete response whose JSON is cut short;
                  `mode=length`: Content-Length announces the whole body, part is sent, then
                  the connection closes
    expire-token  the presented access token really expires and the request gets 401

Keys every kind takes:
    count=N       fire on the next N eligible requests (default 1 unless `rate` is given)
    rate=P        fire with probability P per eligible request (unlimited unless `count`)
    after=K       the first K-1 eligible requests pass; `expire-token:after=3` hits the 3rd
    entity=Sale   only requests for this entity are eligible
    seed=N        seed of this fault's random draws; a bare `seed=N` spec sets the default
    fraction=F    share of the body sent by `drop` and `truncate` (default 0.5)

The first respond-type fault that fires wins; `slow` adds its delay to whatever happens.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

RESPOND_KINDS = frozenset({"5xx", "429", "try-later", "expire-token"})
BODY_KINDS = frozenset({"drop", "truncate"})
DELAY_KINDS = frozenset({"slow"})
KINDS = RESPOND_KINDS | BODY_KINDS | DELAY_KINDS
_ALIASES = {
    "400": "try-later",
    "500": "5xx",
    "expire": "expire-token",
    "expire_token": "expire-token",
}
_KEYS = frozenset(
    {
        "count",
        "rate",
        "after",
        "entity",
        "seed",
        "status",
        "retry_after",
        "seconds",
        "mode",
        "fraction",
    }
)
SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message shows the accepted syntax."""


@dataclass
class Fault:
    """One armed fault and its counters."""

    kind: str
    spec: str
    rng: random.Random
    count: int | None = 1  # firings left; None = unlimited
    rate: float = 1.0
    after: int = 1
    entity: str | None = None
    status: str = "500"
    retry_after: int = 1
    seconds: float = 2.0
    mode: str = "json"
    fraction: float = 0.5
    seen: int = 0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.count <= 0

    def consider(self, entity: str | None) -> bool:
        """Count one eligible request and say whether the fault fires on it."""
        if self.exhausted or (self.entity is not None and self.entity != entity):
            return False
        self.seen += 1
        if self.seen < self.after:
            return False
        if self.rate < 1.0 and self.rng.random() >= self.rate:
            return False
        self.fired += 1
        if self.count is not None:
            self.count -= 1
        return True

    def server_error_status(self) -> int:
        """The status a `5xx` fault answers with."""
        if self.status == "any":
            return self.rng.choice(SERVER_ERROR_STATUSES)
        return int(self.status)

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "remaining": self.count,
            "seen": self.seen,
            "fired": self.fired,
        }


@dataclass
class FaultPlan:
    """What the faults decided for one request."""

    delay: float = 0.0
    respond: Fault | None = None
    body: Fault | None = None
    fired: list[str] = field(default_factory=list)


def _int(key: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise FaultSpecError(f"fault key {key}={value!r}: expected an integer") from None
    if number < minimum:
        raise FaultSpecError(f"fault key {key}={value!r}: must be >= {minimum}")
    return number


def _float(key: str, value: str, low: float, high: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FaultSpecError(f"fault key {key}={value!r}: expected a number") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise FaultSpecError(f"fault key {key}={value!r}: must be {bound}")
    return number


def _apply_key(fault: Fault, key: str, value: str) -> None:
    if key == "count":
        fault.count = _int(key, value, 1)
    elif key == "rate":
        fault.rate = _float(key, value, 0.0, 1.0)
    elif key == "after":
        fault.after = _int(key, value, 1)
    elif key == "entity":
        fault.entity = value
    elif key == "seed":
        fault.rng = random.Random(value)
    elif key == "status":
        if value not in {"500", "502", "503", "any"}:
            raise FaultSpecError(f"fault key status={value!r}: use 500, 502, 503 or any")
        fault.status = value
    elif key == "retry_after":
        fault.retry_after = _int(key, value, 0)
    elif key == "seconds":
        fault.seconds = _float(key, value, 0.0)
    elif key == "mode":
        if value not in {"json", "length"}:
            raise FaultSpecError(f"fault key mode={value!r}: use json or length")
        fault.mode = value
    elif key == "fraction":
        fault.fraction = _float(key, value, 0.0, 1.0)


def parse_fault(spec: str, default_seed: str, index: int) -> Fault:
    """Parse one `kind[:key=value]...` spec into an armed fault.

    Raises:
        FaultSpecError: the spec names an unknown kind or key, or a value is out of range.
    """
    kind, *pairs = [part.strip() for part in spec.strip().split(":")]
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise FaultSpecError(
            f"unknown fault kind {kind!r} in {spec!r}; use one of {', '.join(sorted(KINDS))}"
        )
    # Each fault draws from its own generator so adding a fault does not reshuffle the others.
    fault = Fault(kind=kind, spec=spec.strip(), rng=random.Random(f"{default_seed}:{index}:{kind}"))
    keys: set[str] = set()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in _KEYS:
            raise FaultSpecError(
                f"bad fault option {pair!r} in {spec!r}; options are key=value with key in "
                f"{', '.join(sorted(_KEYS))}"
            )
        _apply_key(fault, key, value)
        keys.add(key)
    if "rate" in keys and "count" not in keys:
        fault.count = None
    return fault


class FaultInjector:
    """The armed faults of one server; thread-safe because control calls come from tests too."""

    def __init__(self, specs: list[str] | None = None, seed: int | str = 0) -> None:
        self._lock = threading.Lock()
        self._seed = str(seed)
        self._faults: list[Fault] = []
        self._added = 0
        self._fired: dict[str, int] = {}
        self.add(specs or [])

    def add(self, specs: list[str] | str) -> list[Fault]:
        """Arm faults from specs; a bare `seed=N` spec sets the seed of the specs after it.

        Raises:
            FaultSpecError: one spec is invalid (none of the given specs is armed then).
        """
        if isinstance(specs, str):
            specs = [specs]
        with self._lock:
            seed, parsed = self._seed, []
            for index, spec in enumerate(specs, start=self._added):
                if spec.strip().startswith("seed="):
                    seed = spec.strip().removeprefix("seed=")
                    continue
                parsed.append(parse_fault(spec, seed, index))
            self._seed = seed
            self._added += len(specs)
            self._faults.extend(parsed)
            return parsed

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The armed faults, for `GET /_emulator/faults`."""
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def fired_counts(self) -> dict[str, int]:
        """How often each kind fired since start (or the last stats reset)."""
        with self._lock:
            return dict(self._fired)

    def reset_counts(self) -> None:
        with self._lock:
            self._fired.clear()

    def plan(self, entity: str | None) -> FaultPlan:
        """Decide the faults of one API request (`entity` is None for Account/Session)."""
        plan = FaultPlan()
        with self._lock:
            for fault in self._faults:
                if fault.kind in DELAY_KINDS:
                    if fault.consider(entity):
                        plan.delay += fault.seconds
                        plan.fired.append(fault.kind)
                elif fault.kind in RESPOND_KINDS:
                    if plan.respond is None and fault.consider(entity):
                        plan.respond = fault
                        plan.fired.append(fault.kind)
                elif plan.body is None and plan.respond is None and fault.consider(entity):
                    plan.body = fault
                    plan.fired.append(fault.kind)
            for kind in plan.fired:
                self._fired[kind] = self._fired.get(kind, 0) + 1
            self._faults = [fault for fault in self._faults if not fault.exhausted]
        return plan


class BrokenResponse(Response):
    """A response whose delivery fails the way a flaky network or proxy fails.

    `drop` streams part of a chunked body and then ends the ASGI call without finishing it,
    so uvicorn closes the socket: the client sees a broken chunked stream. `truncate`
    either announces the full Content-Length and sends less (same socket close) or sends a
    complete response whose JSON was cut short.
    """

    def __init__(self, fault: Fault, content: bytes, status_code: int, headers: dict[str, str]):
        self.fault = fault
        self.full_body = content
        super().__init__(content=b"", status_code=status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cut = self.full_body[: int(len(self.full_body) * self.fault.fraction)]
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        if self.fault.kind == "truncate" and self.fault.mode == "json":
            headers.append((b"content-length", str(len(cut)).encode()))
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": headers}
            )
            await send({"type": "http.response.body", "body": cut, "more_body": False})
            return
        if self.fault.kind == "truncate":
            headers.append((b"content-length", str(len(self.full_body)).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        # Returning with more_body pending is how an ASGI app makes uvicorn drop the socket.
        await send({"type": "http.response.body", "body": cut, "more_body": True})
