"""Sign a checkpoint when the tree has grown since the last one."""

from __future__ import annotations

from sqlalchemy import Engine

from ledger import keys
from ledger.config import Settings
from ledger.db.engine import transaction
from ledger.services import checkpoints


def make_job(settings: Settings):  # type: ignore[no-untyped-def]
    signer = keys.load_signer(settings.signing_key_path, settings.key_name)

    def sign_checkpoint(engine: Engine) -> str:
        with transaction(engine) as session:
            row = checkpoints.sign_current(session, signer, settings.origin)
            return f"signed tree size {row.tree_size}" if row else "tree unchanged"

    return sign_checkpoint
