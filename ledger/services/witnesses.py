"""The ledger's side of witnessing: who its witnesses are, the cosignatures they send, and the
checkpoint served with those cosignatures attached.

A witness is registered by an admin, and the registration is a ledger entry
(``witness.registered``): anyone can see when a witness was added and by whom, so the operator
cannot quietly vouch for itself under an invented name.  Cosignatures are not entries: an entry
about a checkpoint would grow the very tree it vouches for, and every cosignature would call for a
new checkpoint.  They are kept beside the checkpoints instead, and a cosignature needs no other
credential than itself: it is accepted when it verifies against a registered witness's key over a
checkpoint body this ledger signed.  See ``jobs/witness.py`` for the witness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import LedgerCheckpoint, Witness, WitnessCosignature
from ledger.domain.checkpoint import parse_checkpoint, split_note
from ledger.domain.cosignature import CosignatureVerifier, parse_cosignature
from ledger.errors import LedgerError, NoteError

REGISTERED_KIND = "witness.registered"
MAX_ORGANISATION = 200
MAX_NAME = 200
# Clocks differ a little; a cosignature from further ahead than this is refused
# (tlog-cosignature lets verifiers refuse times in the future).
CLOCK_SKEW = timedelta(minutes=5)


class WitnessConflict(LedgerError):
    title = "Witness conflict"
    type = "witness-conflict"
    status = 409


class InvalidWitness(LedgerError):
    title = "Invalid witness"
    type = "invalid-witness"
    status = 422


class CosignatureRejected(LedgerError):
    """The cosignature is not by a registered witness, or does not verify."""

    title = "Cosignature rejected"
    type = "cosignature-rejected"
    status = 403


class NotOurCheckpoint(LedgerError):
    """The cosigned body is not a checkpoint this ledger signed."""

    title = "Not a checkpoint of this ledger"
    type = "not-our-checkpoint"
    status = 422


@dataclass(frozen=True)
class Registered:
    witness: Witness
    created: bool


@dataclass(frozen=True)
class Accepted:
    witness: str
    tree_size: int
    timestamp: int


def register(
    session: Session, verifier_key: str, organisation: str, actor: dict[str, str], ledger_public_key: bytes
) -> Registered:
    """Register the witness whose cosignature/v1 vkey is ``verifier_key``; registering the same
    key again returns the first registration and appends nothing."""
    try:
        verifier = CosignatureVerifier.from_vkey(verifier_key)
    except NoteError as exc:
        raise InvalidWitness(f"verifier_key: {exc}") from exc
    if len(verifier.name) > MAX_NAME:
        raise InvalidWitness(f"verifier_key: the witness name is longer than {MAX_NAME} characters")
    label = organisation.strip()
    if not label or len(label) > MAX_ORGANISATION or not label.isprintable():
        raise InvalidWitness(f"organisation must be 1 to {MAX_ORGANISATION} printable characters")
    if verifier.public_key_bytes == ledger_public_key:
        raise InvalidWitness("a witness must hold a key of its own, not the ledger's signing key")
    # Under the append lock, so two identical registrations at once make one entry.
    store.lock(session)
    existing = session.scalars(
        select(Witness).where((Witness.public_key == verifier.public_key_bytes) | (Witness.name == verifier.name))
    ).first()
    if existing is not None:
        if existing.public_key == verifier.public_key_bytes and existing.name == verifier.name:
            return Registered(existing, created=False)
        raise WitnessConflict(
            f"witness {existing.name} is already registered with "
            + ("this key" if existing.public_key == verifier.public_key_bytes else "another key")
        )
    payload = {"name": verifier.name, "verifier_key": verifier.vkey, "organisation": label}
    (appended,) = store.append(
        session,
        [store.NewEvent(kind=REGISTERED_KIND, subject=f"witness:{verifier.name}", actor=actor, payload=payload)],
    )
    witness = Witness(
        name=verifier.name,
        key_id=verifier.key_id,
        public_key=verifier.public_key_bytes,
        verifier_key=verifier.vkey,
        organisation=label,
        registered_seq=appended.seq,
        registered_at=datetime.now(UTC),
    )
    session.add(witness)
    session.flush()
    return Registered(witness, created=True)


def registered(session: Session) -> list[Witness]:
    return list(session.scalars(select(Witness).order_by(Witness.id)))


def latest_cosignature(session: Session, witness: Witness) -> WitnessCosignature | None:
    """The witness's cosignature of the largest checkpoint it cosigned."""
    query = (
        select(WitnessCosignature)
        .where(WitnessCosignature.witness_id == witness.id)
        .order_by(WitnessCosignature.tree_size.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def accept(session: Session, note: str, now: datetime | None = None) -> list[Accepted]:
    """Store the registered witnesses' cosignatures on ``note``, a checkpoint this ledger signed.

    The note may carry other lines (the ledger's own signature, unknown cosigners): they are
    ignored.  A line by a registered witness that does not verify refuses the whole note, as a
    signed-note reader must.  For each witness and checkpoint the latest cosignature is kept.
    """
    moment = now or datetime.now(UTC)
    try:
        body, signatures = split_note(note)
        checkpoint = parse_checkpoint(body)
    except NoteError as exc:
        raise NoteError(f"the body must be a cosigned checkpoint: {exc}") from exc
    stored = session.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size == checkpoint.tree_size)).first()
    if stored is None or split_note(stored.note)[0] != body:
        raise NotOurCheckpoint(
            f"this ledger signed no checkpoint with this body (origin {checkpoint.origin!r}, "
            f"tree size {checkpoint.tree_size})"
        )
    witnesses = registered(session)
    verifiers = [(w, CosignatureVerifier(w.name, w.key_id, w.public_key)) for w in witnesses]
    accepted: dict[int, tuple[Witness, int, str]] = {}
    for name, blob in signatures:
        for witness, verifier in verifiers:
            if not verifier.matches(name, blob):
                continue
            try:
                cosignature = parse_cosignature(name, blob)
                verifier.verify(body, cosignature)
            except NoteError as exc:
                raise CosignatureRejected(str(exc)) from exc
            if cosignature.timestamp > (moment + CLOCK_SKEW).timestamp():
                raise InvalidWitness(f"the cosignature by {name} is dated in the future ({cosignature.timestamp})")
            if witness.id not in accepted or accepted[witness.id][1] < cosignature.timestamp:
                accepted[witness.id] = (witness, cosignature.timestamp, cosignature.line)
    if not accepted:
        raise CosignatureRejected("the note carries no cosignature by a registered witness")
    for witness, timestamp, line in accepted.values():
        _keep_latest(session, checkpoint.tree_size, witness.id, timestamp, line, moment)
    return [Accepted(witness.name, checkpoint.tree_size, timestamp) for witness, timestamp, _ in accepted.values()]


def _keep_latest(session: Session, size: int, witness_id: int, timestamp: int, line: str, now: datetime) -> None:
    """Insert, or replace an older cosignature of the same checkpoint by the same witness; one
    statement, so two deliveries at once cannot both insert."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"tree_size": size, "witness_id": witness_id, "timestamp": timestamp, "line": line, "received_at": now}
    statement = insert(WitnessCosignature).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["tree_size", "witness_id"],
            set_={"timestamp": timestamp, "line": line, "received_at": now},
            where=WitnessCosignature.timestamp < statement.excluded.timestamp,
        )
    )


def cosigned_note(session: Session, checkpoint: LedgerCheckpoint) -> str:
    """The checkpoint as the ledger signed it, followed by its witnesses' cosignature lines."""
    lines: Sequence[str] = session.scalars(
        select(WitnessCosignature.line)
        .where(WitnessCosignature.tree_size == checkpoint.tree_size)
        .order_by(WitnessCosignature.witness_id)
    ).all()
    return checkpoint.note + "".join(f"{line}\n" for line in lines)
