"""Settings from ``LEDGER_*`` environment variables, with safe local defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ORIGIN = "anlian.local/ledger"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/ledger.db"
    signing_key_path: Path = Path("var/ledger-signing-key.pem")
    origin: str = DEFAULT_ORIGIN
    key_name: str = DEFAULT_ORIGIN
    public_url: str = "http://127.0.0.1:8000"
    time_zone: str = "Asia/Shanghai"
    # Entrapment arrival targets by grid-tree node, e.g. "330100=30,330127=60,*=30": the nearest
    # configured node above a unit's grid applies (30 minutes in cities, commonly 60 elsewhere).
    arrival_targets: str = "*=30"
    emergency_code_pattern: str = r"\d{5,6}"
    # A streaming replica of the PostgreSQL primary: anonymous page views and proofs read from it
    # (see api/context.py), everything else uses the primary.  Empty: the primary serves all.
    replica_database_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        origin = env.get("LEDGER_ORIGIN", DEFAULT_ORIGIN)
        return cls(
            database_url=env.get("LEDGER_DATABASE_URL", cls.database_url),
            signing_key_path=Path(env.get("LEDGER_SIGNING_KEY_PATH", str(cls.signing_key_path))),
            origin=origin,
            key_name=env.get("LEDGER_KEY_NAME", origin),
            public_url=env.get("LEDGER_PUBLIC_URL", cls.public_url).rstrip("/"),
            time_zone=env.get("LEDGER_TIME_ZONE", cls.time_zone),
            arrival_targets=env.get("LEDGER_ARRIVAL_TARGETS", cls.arrival_targets),
            emergency_code_pattern=env.get("LEDGER_EMERGENCY_CODE_PATTERN", cls.emergency_code_pattern),
            replica_database_url=env.get("LEDGER_REPLICA_DATABASE_URL", cls.replica_database_url),
        )
