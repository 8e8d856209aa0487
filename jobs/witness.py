"""The witness: ``python -m jobs --witness witness.toml`` runs, in another organisation (the
provincial bureau, a consumer association), a job that watches the ledger and cosigns its
checkpoints only while its history stays append-only.

Each run fetches the ledger's latest signed checkpoint and a consistency proof from the size
this witness last cosigned, checks them by the rules of C2SP tlog-witness ``add-checkpoint``
(the ledger's signature, no shrinking, an equal size has an equal root, the RFC 9162 proof
verifies), keeps the new size and root in its state file, and delivers its C2SP
tlog-cosignature line to the ledger.  When a check fails it refuses, says why, and keeps the
signed checkpoint it was shown as evidence: a ledger that forks its history is caught by its
witnesses, not only by its own verifier.

Why the witness pulls instead of serving tlog-witness's ``add-checkpoint`` for the ledger to
call: a witness that only reads needs no service reachable from the operator's network, which is
what a bureau's or an association's IT will agree to run, and the ledger never holds a way to make
a witness act.  The protocol is otherwise kept: the witness builds the very ``add-checkpoint``
request (``old N``, proof lines, the signed note) from its own state and runs the same checks on
it, and the cosignature it delivers is byte for byte what tlog-witness would return.  The ledger
accepts it only if it verifies against the witness's registered key.

The configuration (TOML; relative paths are relative to the file)::

    name = "witness.scjg.zj.example/anlian"      # this witness's key name
    key = "witness-key.pem"                      # Ed25519 private key, created by --show-key
    state = "witness-state.json"                 # the last cosigned size and root, and refusals
    ledger = "https://anlian.example.cn"         # the ledger's public address
    ledger_key = "anlian.local/ledger+…+…"       # the ledger's note verifier key, from its operator
    origin = "anlian.local/ledger"               # optional: the ledger key's name by default
    interval_seconds = 60                        # optional
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import logging
import os
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import keys
from ledger.domain.checkpoint import NoteVerifier, parse_checkpoint, split_note
from ledger.domain.cosignature import (
    AddCheckpoint,
    Cosigner,
    Refusal,
    WitnessState,
    add_checkpoint,
    cosignatures_on,
)
from ledger.domain.hashing import HASH_SIZE
from ledger.errors import NoteError

log = logging.getLogger(__name__)
KEPT_REFUSALS = 20  # evidence kept in the state file, newest last
MAX_ANSWER_BYTES = 1 << 20


class ConfigError(ValueError):
    """The witness configuration cannot be used; the message says which setting and why."""


class Unavailable(Exception):
    """The ledger could not be reached or did not answer; nothing is known about it."""


@dataclass(frozen=True)
class WitnessConfig:
    name: str
    key_path: Path
    state_path: Path
    ledger_url: str
    ledger_key: str
    origin: str
    interval_seconds: int = 60
    timeout_seconds: float = 15.0


def load_config(path: Path) -> WitnessConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    allowed = {"name", "key", "state", "ledger", "ledger_key", "origin", "interval_seconds", "timeout_seconds"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: '{key}' must be a non-empty string")
        return value.strip()

    ledger = text("ledger").rstrip("/")
    if urlsplit(ledger).scheme not in ("http", "https") or not urlsplit(ledger).netloc:
        raise ConfigError(f"{path}: 'ledger' must be an http(s) address, got {ledger!r}")
    ledger_key = text("ledger_key")
    try:
        verifier = NoteVerifier.from_verifier_key(ledger_key)
    except NoteError as exc:
        raise ConfigError(f"{path}: 'ledger_key' is not the ledger's note verifier key: {exc}") from exc
    interval = raw.get("interval_seconds", 60)
    timeout = raw.get("timeout_seconds", 15.0)
    if not isinstance(interval, int) or isinstance(interval, bool) or not 5 <= interval <= 86400:
        raise ConfigError(f"{path}: 'interval_seconds' must be a whole number from 5 to 86400")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 300:
        raise ConfigError(f"{path}: 'timeout_seconds' must be a number of seconds up to 300")
    name = text("name")
    try:
        Cosigner(name, Ed25519PrivateKey.generate())  # the same name rules as the key will need
    except NoteError as exc:
        raise ConfigError(f"{path}: 'name': {exc}") from exc
    folder = path.parent
    return WitnessConfig(
        name=name,
        key_path=folder / text("key"),
        state_path=folder / text("state"),
        ledger_url=ledger,
        ledger_key=ledger_key,
        origin=text("origin") if "origin" in raw else verifier.name,
        interval_seconds=interval,
        timeout_seconds=float(timeout),
    )


def load_cosigner(config: WitnessConfig, create: bool = False) -> Cosigner:
    """The witness's key; with ``create``, made first if absent (0600, never overwritten)."""
    if create:
        keys.create_signing_key(config.key_path)
    try:
        key = serialization.load_pem_private_key(config.key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the witness key {config.key_path} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{config.key_path} does not hold an Ed25519 private key")
    return Cosigner(config.name, key)


# -- The state file -----------------------------------------------------------------------------


@dataclass
class Record:
    """What the state file holds: the last cosigned checkpoint and the refusals, as evidence."""

    state: WitnessState | None
    cosigned_at: int | None
    refusals: list[dict[str, Any]]


def read_record(path: Path, origin: str) -> Record:
    if not path.exists():
        return Record(None, None, [])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        refusals = list(raw.get("refusals", []))
        if raw.get("size") is None:
            return Record(None, None, refusals)
        root = base64.b64decode(raw["root"], validate=True)
        size = raw["size"]
        if raw["origin"] != origin or len(root) != HASH_SIZE or not isinstance(size, int) or size < 0:
            raise ValueError("it is for another ledger or holds no valid size and root")
        return Record(WitnessState(origin, size, root), raw.get("cosigned_at"), refusals)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        # Never start again from zero on a damaged state: that would cosign a forked ledger.
        raise ConfigError(f"the witness state {path} cannot be read ({exc}); restore it from a backup") from exc


def write_record(path: Path, record: Record) -> None:
    """Replace the state file atomically (write, fsync, rename): a crash leaves the old or the
    new state, never half of one."""
    state = record.state
    data = {
        "origin": state.origin if state else None,
        "size": state.size if state else None,
        "root": base64.b64encode(state.root).decode() if state else None,
        "cosigned_at": record.cosigned_at,
        "refusals": record.refusals[-KEPT_REFUSALS:],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One run at a time per state file: reading the state, checking and writing the new one
    must not interleave with another run, or a slower run could roll the state back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- Talking to the ledger ----------------------------------------------------------------------


class LedgerClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout

    def _call(self, path: str, body: bytes | None = None) -> tuple[int, str]:
        headers = {"User-Agent": "anlian-witness", "Accept": "text/plain, application/json"}
        if body is not None:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers)  # noqa: S310 (http(s) only, checked in load_config)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return int(response.status), response.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
        except (OSError, ValueError) as exc:
            raise Unavailable(f"could not reach the ledger at {self.base_url}: {exc}") from exc

    def checkpoint(self) -> str:
        status, text = self._call("/api/v1/ledger/checkpoint")
        if status != 200:
            raise Unavailable(f"the ledger answered HTTP {status} for its checkpoint: {_detail(text)}")
        return text

    def consistency(self, first: int, second: int) -> tuple[int, tuple[bytes, ...] | str]:
        """The proof, or the ledger's refusal to give one (its status and what it said)."""
        status, text = self._call(f"/api/v1/ledger/proof/consistency?first={first}&second={second}")
        if status >= 500 or status in (408, 429):
            raise Unavailable(f"the ledger answered HTTP {status} for a consistency proof: {_detail(text)}")
        if status != 200:
            return status, _detail(text)
        try:
            hashes = tuple(bytes.fromhex(h) for h in json.loads(text)["hashes"])
        except (ValueError, KeyError, TypeError) as exc:
            return status, f"the consistency proof is malformed ({exc})"
        return status, hashes

    def deliver(self, note: str) -> tuple[int, str]:
        return self._call("/api/v1/ledger/cosignatures", note.encode())


def _detail(text: str) -> str:
    try:
        problem = json.loads(text)
        return str(problem.get("detail") or problem.get("title") or text)
    except (ValueError, AttributeError):
        return text.strip()[:300]


# -- One run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """``cosigned``, ``unchanged`` (already cosigned, and the ledger serves the cosignature),
    ``refused`` (the ledger misbehaved: the detail says how), ``undelivered`` (cosigned, but the
    ledger would not take the cosignature) or ``unavailable`` (the ledger could not be asked)."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind in ("cosigned", "unchanged")


def run_once(config: WitnessConfig, now: Callable[[], float] = time.time) -> Outcome:
    cosigner = load_cosigner(config)
    ledger = NoteVerifier.from_verifier_key(config.ledger_key)
    client = LedgerClient(config.ledger_url, config.timeout_seconds)
    with locked(config.state_path):
        record = read_record(config.state_path, config.origin)
        try:
            note = client.checkpoint()
            outcome, cosigned = _check(config, cosigner, ledger, client, record, note, int(now()))
        except Unavailable as exc:
            return Outcome("unavailable", str(exc))
    if cosigned is None:
        return outcome
    # The state is saved before the cosignature leaves (tlog-witness): a lost delivery is made
    # again next run, at the same size, which the state already allows.
    status, answer = client.deliver(cosigned)
    if status != 200:
        return Outcome(
            "undelivered", f"{outcome.detail}, but the ledger did not take it (HTTP {status}: {_detail(answer)})"
        )
    return outcome


def _check(
    config: WitnessConfig,
    cosigner: Cosigner,
    ledger: NoteVerifier,
    client: LedgerClient,
    record: Record,
    note: str,
    now: int,
) -> tuple[Outcome, str | None]:
    """Decide on ``note``; return the outcome and, when cosigned, the note to deliver."""
    state = record.state
    old = state.size if state else 0
    try:
        body, _ = split_note(note)
        shown = parse_checkpoint(body)
    except NoteError:
        shown = None  # add_checkpoint below refuses it and says why
    if state is not None and shown is not None and (shown.tree_size, shown.root_hash) == (state.size, state.root):
        if _carries_own(note, cosigner):
            return Outcome("unchanged", f"tree size {state.size} already cosigned; the ledger serves it"), None
    proof: tuple[bytes, ...] = ()
    if shown is not None and 0 < old < shown.tree_size:
        status, answer = client.consistency(old, shown.tree_size)
        if isinstance(answer, str):
            refusal = Refusal(
                422,
                f"the ledger could not prove that its tree of size {shown.tree_size} extends the tree of "
                f"size {old} this witness cosigned (HTTP {status}: {answer})",
            )
            return _refused(config, record, refusal, AddCheckpoint(old, (), note), now), None
        proof = answer
    request = AddCheckpoint(old, proof, note)
    try:
        cosignature, new_state = add_checkpoint(request, state, ledger, config.origin, cosigner, now)
    except Refusal as refusal:
        return _refused(config, record, refusal, request, now), None
    write_record(config.state_path, Record(new_state, now, record.refusals))
    checkpoint_body, _ = split_note(note)
    detail = f"cosigned tree size {new_state.size} (root {base64.b64encode(new_state.root).decode()})"
    return Outcome("cosigned", detail), f"{checkpoint_body}\n{cosignature.line}\n"


def _carries_own(note: str, cosigner: Cosigner) -> bool:
    try:
        return bool(cosignatures_on(note, [cosigner.verifier()]))
    except NoteError:
        return False  # a line under our name that does not verify: deliver a good one again


def _refused(config: WitnessConfig, record: Record, refusal: Refusal, request: AddCheckpoint, now: int) -> Outcome:
    """Keep the refusal and the signed checkpoint that caused it: signed by the ledger's key, it
    proves what the ledger showed, and with the cosigned state it proves a fork."""
    evidence = {
        "at": datetime.fromtimestamp(now, UTC).isoformat(),
        "status": refusal.status,
        "reason": refusal.reason,
        "add_checkpoint": request.text(),
    }
    write_record(config.state_path, Record(record.state, record.cosigned_at, [*record.refusals, evidence]))
    return Outcome("refused", refusal.reason)


def make_job(config: WitnessConfig) -> Callable[[], Outcome]:
    """The scheduled run: every outcome is logged, a refusal as an error an operator must see."""

    def witness() -> Outcome:
        try:
            outcome = run_once(config)
        except ConfigError as exc:
            outcome = Outcome("error", str(exc))
        level = {"cosigned": logging.INFO, "unchanged": logging.DEBUG, "unavailable": logging.WARNING}
        log.log(
            level.get(outcome.kind, logging.ERROR), "witness %s: %s (%s)", config.name, outcome.kind, outcome.detail
        )
        return outcome

    return witness
