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
        )
