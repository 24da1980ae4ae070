"""Every emulator option in one dataclass: the CLI fills it, tests and benchmarks build it directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"  # noqa: S105 - the emulator's public demo credential


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    seed: int = 42
    shops: int = 3
    days: int = 7  # history reaches this many days back from the data clock's now
    sales_per_day: int = 120  # average per shop per day
    now: datetime | None = None  # pins the data clock's start; None = real time
    clock_speed: float = 1.0  # data-clock seconds per real second; 0 freezes it
    account_id: int = 120645
    account_name: str = "Demo Outdoor Co."
    registers: int = 1  # register limit of the subscription: sizes the bucket
    bucket_size: float | None = None  # default 90 + 10 x (registers - 1)
    drip_rate: float | None = None  # default 1 + 0.5 x (registers - 1) per second
    token_ttl: int = 3600  # access-token lifetime (expires_in), seconds
    code_ttl: int = 60  # authorization-code lifetime, seconds
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    control: bool = False  # enables /_emulator/* control endpoints (stats is always on)
    faults: list[str] = field(default_factory=list)  # fault specs, see faults.py
    redirect_uri: str = "http://127.0.0.1:8765/callback"  # the client's registered callback
    refresh_limit_per_minute: int = 5  # refresh attempts per connection per minute; 0 = no limit

    @property
    def effective_bucket_size(self) -> float:
        return self.bucket_size if self.bucket_size is not None else 90 + 10 * (self.registers - 1)

    @property
    def effective_drip_rate(self) -> float:
        return self.drip_rate if self.drip_rate is not None else 1 + 0.5 * (self.registers - 1)
