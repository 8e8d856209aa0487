"""What every ``python -m ledger`` command shares: settings, the engine, the signing key."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from ledger import keys
from ledger.config import Settings
from ledger.db.engine import make_engine
from ledger.domain.checkpoint import NoteSigner


class Context:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def signer(self) -> NoteSigner:
        path = self.settings.signing_key_path
        if not path.exists():
            raise click.ClickException(f"no signing key at {path}: run 'python -m ledger init' first")
        return keys.load_signer(path, self.settings.key_name)


pass_context = click.make_pass_decorator(Context, ensure=True)
