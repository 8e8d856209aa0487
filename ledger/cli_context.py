"""What every ``python -m ledger`` command shares: settings, the engine, the signing key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ledger import keys
from ledger.config import Settings
from ledger.db.engine import make_engine, transaction
from ledger.domain.checkpoint import NoteSigner
from ledger.errors import LedgerError


class Context:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @contextmanager
    def writing(self, failure_note: str = "") -> Iterator[Session]:
        """One write transaction; a refused command prints why and exits 1, having written nothing."""
        try:
            with transaction(self.engine) as session:
                yield session
        except LedgerError as exc:
            raise click.ClickException(f"{exc}{failure_note}") from exc

    def signer(self) -> NoteSigner:
        path = self.settings.signing_key_path
        if not path.exists():
            raise click.ClickException(f"no signing key at {path}: run 'python -m ledger init' first")
        return keys.load_signer(path, self.settings.key_name)


pass_context = click.make_pass_decorator(Context, ensure=True)
