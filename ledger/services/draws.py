"""Random inspection draws (双随机、一公开): announce, perform, record results, verify.

A draw is announced before anyone can know its outcome: ``draw.announced`` states every input
(the candidates with their grades as of that moment, the weights, N, the inspector pool, and
the previous draw's assignments in the grid).  Its seed is the root hash of the first checkpoint
signed with a tree size above the announcement's ``seq``, a value nobody could choose or
foresee when the inputs were fixed, so the caller never supplies one.  ``draw.performed``
records the outcome, ``draw.result`` each inspection's result, and :func:`verify` redoes the
draw from the ledger entries and the stored checkpoint alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Draw, DrawResult, Grid, LedgerCheckpoint, LedgerEntry, Organisation, OrgScope, RiskGrade
from ledger.domain import draw as rules
from ledger.domain import grids
from ledger.domain.access import Forbidden, Principal
from ledger.domain.canonical import decode_entry, parse_recorded_at
from ledger.domain.checkpoint import NoteVerifier, open_checkpoint, parse_checkpoint, split_note
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry, LedgerError, NoteError, NotFound
from ledger.services.grids import grid_codes_under, in_scope
from ledger.services.orgs import SYSTEM_ACTOR
from ledger.services.risk import GRADED_KIND, KINDS

ANNOUNCED_KIND = "draw.announced"
PERFORMED_KIND = "draw.performed"
RESULT_KIND = "draw.result"
SEED_RULE = "the root hash of the first signed checkpoint whose tree_size is greater than this entry's seq"
RESULTS = {"compliant": "未发现问题", "non_compliant": "发现问题", "not_found": "未发现检查对象"}
_ID_LIMIT = 64


class DrawWaiting(LedgerError):
    """The draw's seed does not exist yet: no checkpoint has been signed since the announcement."""

    title = "Waiting for the next signed checkpoint"
    type = "draw-waiting"
    status = 409


class DrawState(LedgerError):
    """The draw is not in a state that allows this (no outcome yet, a result already recorded)."""

    title = "Draw state conflict"
    type = "draw-state"
    status = 409


def draw_subject(announced_seq: int) -> str:
    """The subject of a draw's later entries: its announcement's seq names it."""
    return f"draw:{announced_seq}"


def get_draw(session: Session, announced_seq: int) -> Draw:
    found = session.scalars(select(Draw).where(Draw.announced_seq == announced_seq)).first()
    if found is None:
        raise NotFound(f"no draw was announced at seq {announced_seq}")
    return found


# --- announcing -----------------------------------------------------------------------------


def pool_spec(value: Any, default_org: str) -> list[dict[str, str]]:
    """The inspector pool: ``[{"id", "name", "org_id"?}]``, ids unique, sorted by id."""
    if not isinstance(value, list) or not 1 <= len(value) <= rules.MAX_POOL:
        raise InvalidEntry(f"pool must be a list of 1 to {rules.MAX_POOL} inspectors")
    members: dict[str, dict[str, str]] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"id", "name", "org_id"}:
            raise InvalidEntry(f"pool[{index}] must be an object with id, name and optionally org_id")
        member = {
            "id": validate_text(item.get("id"), f"pool[{index}].id", _ID_LIMIT),
            "name": validate_text(item.get("name"), f"pool[{index}].name", 100),
            "org_id": validate_text(item.get("org_id") or default_org, f"pool[{index}].org_id", 32),
        }
        if member["id"] in members:
            raise InvalidEntry(f"pool[{index}].id {member['id']!r} appears twice")
        members[member["id"]] = member
    return [members[key] for key in sorted(members)]


def _check_pool_orgs(session: Session, pool: list[dict[str, str]], grid_code: str) -> None:
    """Every pool member works for an inspecting organisation whose grids cover the draw's grid:
    it is that organisation that records the results."""
    org_ids = sorted({member["org_id"] for member in pool})
    roles_query = select(Organisation.id, Organisation.roles).where(Organisation.id.in_(org_ids))
    roles: dict[str, list[str]] = {org_id: list(held) for org_id, held in session.execute(roles_query)}
    scopes: dict[str, set[str]] = {}
    scope_rows = select(OrgScope.org_id, OrgScope.grid_code).where(OrgScope.org_id.in_(org_ids))
    for org_id, code in session.execute(scope_rows):
        scopes.setdefault(org_id, set()).add(code)
    tree = session.execute(select(Grid.code, Grid.parent_code))
    parent_of: dict[str, str | None] = {code: parent for code, parent in tree}
    for org_id in org_ids:
        covered = grids.covers(scopes.get(org_id, set()), grid_code, parent_of)
        if "inspector" not in roles.get(org_id, []) or not covered:
            raise InvalidEntry(f"pool: organisation {org_id} is not an inspector of grid {grid_code}")


def _candidates(session: Session, grid_code: str, kind: str | None) -> list[dict[str, str]]:
    query = select(RiskGrade.subject, RiskGrade.grade).where(
        RiskGrade.grid_code.in_(sorted(grid_codes_under(session, [grid_code])))
    )
    if kind is not None:
        query = query.where(RiskGrade.subject.startswith(KINDS[kind], autoescape=True))
    found = sorted((subject, grade) for subject, grade in session.execute(query))
    return [{"subject": subject, "grade": grade} for subject, grade in found]


def _previous(session: Session, grid_code: str) -> dict[str, Any]:
    """The assignments of the grid's last performed draw: nobody inspects the same subject twice
    in a row."""
    last = session.scalars(
        select(Draw)
        .where(Draw.grid_code == grid_code, Draw.drawn_seq.is_not(None))
        .order_by(Draw.announced_seq.desc())
        .limit(1)
    ).first()
    if last is None or not last.outcome:
        return {"draw_seq": None, "assignments": {}}
    return {
        "draw_seq": last.announced_seq,
        "assignments": {item["subject"]: list(item["inspectors"]) for item in last.outcome},
    }


def _latest_grading(session: Session) -> int | None:
    query = select(LedgerEntry.seq).where(LedgerEntry.kind == GRADED_KIND).order_by(LedgerEntry.seq.desc()).limit(1)
    return session.scalars(query).first()


def announce(
    session: Session,
    principal: Principal,
    grid_code: str,
    n: Any,
    weights: Any,
    inspectors_per_subject: Any,
    pool: Any,
    kind: str | None = None,
) -> Draw:
    """Fix a draw's inputs in a ``draw.announced`` entry (an inspector of the grid only).

    Inputs that could fail once the seed is known (too few candidates, or a candidate without
    enough inspectors who did not inspect it last time) are refused now, not after the draw.
    """
    if "inspector" not in principal.roles:
        raise Forbidden("only an inspector announces a draw")
    if session.get(Grid, grid_code) is None:
        raise NotFound(f"there is no grid-tree node with code {grid_code!r}")
    if not in_scope(session, principal, grid_code):
        raise Forbidden(f"grid {grid_code} is outside the grids you oversee")
    if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
        raise InvalidEntry(f"kind must be one of {', '.join(KINDS)}")
    members = pool_spec(pool, principal.org_id)
    _check_pool_orgs(session, members, grid_code)
    payload: dict[str, Any] = {
        "algorithm": rules.ALGORITHM,
        "grid_code": grid_code,
        "kind": kind,
        "n": rules.validate_count(n, "n", rules.MAX_N),
        "weights": rules.validate_weights(weights),
        "inspectors_per_subject": rules.validate_count(
            inspectors_per_subject, "inspectors_per_subject", rules.MAX_PER_SUBJECT, rules.DEFAULT_PER_SUBJECT
        ),
        "pool": members,
        "candidates": _candidates(session, grid_code, kind),
        "grades_seq": _latest_grading(session),
        "previous": _previous(session, grid_code),
        "seed": SEED_RULE,
    }
    rules.check_feasible(rules.spec_from_inputs(payload))
    event = store.NewEvent(ANNOUNCED_KIND, f"grid:{grid_code}", principal.actor, payload)
    (appended,) = store.append(session, [event])
    row = Draw(
        announced_seq=appended.seq,
        grid_code=grid_code,
        announced_by=principal.org_id,
        announced_at=parse_recorded_at(decode_entry(appended.entry).recorded_at),
        inputs=payload,
    )
    session.add(row)
    session.flush()
    return row


# --- performing -----------------------------------------------------------------------------


def seed_checkpoint(session: Session, announced_seq: int) -> LedgerCheckpoint | None:
    """The first stored checkpoint whose tree holds the announcement: its root is the seed."""
    query = select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size > announced_seq)
    return session.scalars(query.order_by(LedgerCheckpoint.tree_size).limit(1)).first()


def perform(session: Session, draw: Draw, actor: dict[str, str] | None = None) -> Draw:
    """Draw the subjects and inspectors with the seed and record ``draw.performed``; a draw
    already performed is returned as it is."""
    store.lock(session)  # two callers at once: the second sees the first one's outcome
    session.refresh(draw)
    if draw.drawn_seq is not None:
        return draw
    checkpoint = seed_checkpoint(session, draw.announced_seq)
    if checkpoint is None:
        raise DrawWaiting(
            f"draw {draw.announced_seq} is waiting for the next signed checkpoint: its seed is the root hash "
            f"of the first checkpoint signed after seq {draw.announced_seq}"
        )
    drawn = rules.run_draw(rules.spec_from_inputs(draw.inputs), bytes(checkpoint.root_hash), draw.announced_seq)
    outcome = rules.outcome_dicts(drawn)
    payload = {
        "announced_seq": draw.announced_seq,
        "algorithm": rules.ALGORITHM,
        "seed": {"tree_size": checkpoint.tree_size, "root_hash": bytes(checkpoint.root_hash).hex()},
        "outcome": outcome,
    }
    event = store.NewEvent(PERFORMED_KIND, draw_subject(draw.announced_seq), actor or SYSTEM_ACTOR, payload)
    (appended,) = store.append(session, [event])
    draw.seed_tree_size, draw.drawn_seq, draw.outcome = checkpoint.tree_size, appended.seq, outcome
    session.flush()
    return draw


# --- results --------------------------------------------------------------------------------


def _assigned(draw: Draw, subject: str) -> dict[str, Any]:
    for item in draw.outcome or []:
        if item["subject"] == subject:
            return dict(item)
    raise NotFound(f"{subject} was not drawn in draw {draw.announced_seq}")


def record_result(
    session: Session, principal: Principal, draw: Draw, subject: Any, result: Any, note: Any = None
) -> DrawResult:
    """An assigned inspector's organisation records the result for one drawn subject, once."""
    if draw.drawn_seq is None:
        raise DrawState(f"draw {draw.announced_seq} has not been performed yet")
    if not isinstance(result, str) or result not in RESULTS:
        raise InvalidEntry(f"result must be one of {', '.join(RESULTS)}")
    item = _assigned(draw, str(subject))
    orgs = {member["id"]: member["org_id"] for member in draw.inputs["pool"]}
    if principal.org_id not in {orgs.get(inspector) for inspector in item["inspectors"]}:
        raise Forbidden(f"only the organisation of the inspectors assigned to {subject} records its result")
    if session.get(DrawResult, (draw.id, item["subject"])) is not None:
        raise DrawState(f"the result for {subject} in draw {draw.announced_seq} is already recorded")
    cleaned = None if note in (None, "") else validate_text(note, "note", 2000)
    payload = {"announced_seq": draw.announced_seq, "subject": item["subject"], "result": result,
               "note": cleaned, "inspectors": item["inspectors"]}  # fmt: skip
    event = store.NewEvent(RESULT_KIND, draw_subject(draw.announced_seq), principal.actor, payload)
    (appended,) = store.append(session, [event])
    row = DrawResult(draw_id=draw.id, subject=item["subject"], result=result, note=cleaned,
                     recorded_seq=appended.seq)  # fmt: skip
    session.add(row)
    session.flush()
    return row


# --- verification ---------------------------------------------------------------------------


@dataclass
class DrawVerification:
    """A draw redone from the ledger: the outcome expected and the one recorded, and every
    disagreement found on the way (``ok`` only with none and an outcome recorded)."""

    announced_seq: int
    grid_code: str | None = None
    performed_seq: int | None = None
    seed_tree_size: int | None = None
    seed_root_hash: str | None = None
    expected: list[dict[str, Any]] | None = None
    recorded: list[dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.recorded is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "announced_seq": self.announced_seq,
            "grid_code": self.grid_code,
            "performed_seq": self.performed_seq,
            "seed": None
            if self.seed_tree_size is None
            else {"tree_size": self.seed_tree_size, "root_hash": self.seed_root_hash},
            "expected": self.expected,
            "recorded": self.recorded,
            "matches": self.ok,
            "problems": self.problems,
        }


def _announcement(session: Session, announced_seq: int) -> dict[str, Any]:
    entry = decode_entry(store.get_entry(session, announced_seq).entry)
    if entry.kind != ANNOUNCED_KIND:
        raise NotFound(f"entry {announced_seq} is a {entry.kind} entry, not a draw announcement")
    return entry.payload


def _performed_entries(session: Session, announced_seq: int) -> list[tuple[int, dict[str, Any]]]:
    query = (
        select(LedgerEntry.seq, LedgerEntry.entry)
        .where(LedgerEntry.subject == draw_subject(announced_seq), LedgerEntry.kind == PERFORMED_KIND)
        .order_by(LedgerEntry.seq)
    )
    return [(seq, json.loads(entry)["payload"]) for seq, entry in session.execute(query)]


def _check_seed(session: Session, report: DrawVerification, verifier: NoteVerifier | None) -> bytes | None:
    """The seed from the first stored checkpoint after the announcement, after checking its note
    (and signature, given the key) and that its root is the ledger's own root at that size."""
    checkpoint = seed_checkpoint(session, report.announced_seq)
    if checkpoint is None:
        report.problems.append("no checkpoint has been signed since the announcement: the draw cannot be done yet")
        return None
    try:
        if verifier is not None:
            body = open_checkpoint(checkpoint.note, verifier)
        else:
            body = parse_checkpoint(split_note(checkpoint.note)[0])
    except NoteError as exc:
        report.problems.append(f"the checkpoint at tree size {checkpoint.tree_size} does not open: {exc}")
        return None
    root = store.root_hash(session, checkpoint.tree_size)
    if body.tree_size != checkpoint.tree_size or body.root_hash != root:
        report.problems.append(f"the checkpoint at tree size {checkpoint.tree_size} does not match the ledger")
        return None
    report.seed_tree_size, report.seed_root_hash = checkpoint.tree_size, root.hex()
    return root


def verify(session: Session, announced_seq: int, verifier: NoteVerifier | None = None) -> DrawVerification:
    """Redo a draw from its ``draw.announced`` entry and its seed checkpoint, and compare the
    outcome with the ``draw.performed`` entry and with the stored draw."""
    inputs = _announcement(session, announced_seq)
    report = DrawVerification(announced_seq, grid_code=inputs.get("grid_code"))
    seed = _check_seed(session, report, verifier)
    if seed is not None:
        try:
            report.expected = rules.outcome_dicts(rules.run_draw(rules.spec_from_inputs(inputs), seed, announced_seq))
        except InvalidEntry as exc:
            report.problems.append(f"the announced inputs do not give a draw: {exc}")
    performed = _performed_entries(session, announced_seq)
    if not performed:
        report.problems.append("the draw has not been performed yet")
        return report
    if len(performed) > 1:
        report.problems.append(f"the draw was performed {len(performed)} times: seqs {[s for s, _ in performed]}")
    report.performed_seq, payload = performed[0]
    report.recorded = payload.get("outcome")
    stated = payload.get("seed", {})
    if (stated.get("tree_size"), stated.get("root_hash")) != (report.seed_tree_size, report.seed_root_hash):
        report.problems.append("the performed draw names another seed than the first checkpoint after it")
    if report.expected is not None and report.recorded != report.expected:
        report.problems.append("the recorded outcome differs from the outcome redone from the announcement")
    stored = session.scalars(select(Draw).where(Draw.announced_seq == announced_seq)).first()
    if stored is not None and stored.outcome != report.recorded:
        report.problems.append("the stored draw's outcome differs from its draw.performed entry")
    return report


# --- what the public sees (一公开) -----------------------------------------------------------


def _org_names(session: Session, org_ids: set[str]) -> dict[str, str]:
    query = select(Organisation.id, Organisation.name).where(Organisation.id.in_(sorted(org_ids)))
    return {org_id: name for org_id, name in session.execute(query)}


def public_draw(session: Session, draw: Draw) -> dict[str, Any]:
    """Inputs, seed, outcome and results of a draw, with organisations' names: never contacts."""
    inputs = draw.inputs
    subjects = [c["subject"] for c in inputs["candidates"]]
    orgs = {s.removeprefix("org:") for s in subjects if s.startswith("org:")}
    orgs |= {m["org_id"] for m in inputs["pool"]} | {draw.announced_by}
    names = _org_names(session, orgs)
    checkpoint = seed_checkpoint(session, draw.announced_seq)
    seed = None
    if draw.drawn_seq is not None and checkpoint is not None:
        seed = {"tree_size": checkpoint.tree_size, "root_hash": bytes(checkpoint.root_hash).hex(),
                "checkpoint": checkpoint.note}  # fmt: skip
    results = session.scalars(select(DrawResult).where(DrawResult.draw_id == draw.id).order_by(DrawResult.subject))
    return {
        "announced_seq": draw.announced_seq,
        "grid_code": draw.grid_code,
        "announced_by": {"org_id": draw.announced_by, "name": names.get(draw.announced_by)},
        "announced_at": draw.announced_at.isoformat(),
        "status": "performed" if draw.drawn_seq is not None else "waiting for the next signed checkpoint",
        "inputs": {
            "algorithm": inputs["algorithm"],
            "kind": inputs.get("kind"),
            "n": inputs["n"],
            "weights": inputs["weights"],
            "inspectors_per_subject": inputs["inspectors_per_subject"],
            "pool": [{**m, "org_name": names.get(m["org_id"])} for m in inputs["pool"]],
            "candidates": [_named(c, names) for c in inputs["candidates"]],
            "grades_seq": inputs.get("grades_seq"),
            "previous": inputs["previous"],
            "seed_rule": inputs["seed"],
        },
        "seed": seed,
        "drawn_seq": draw.drawn_seq,
        "outcome": [_named(item, names) for item in draw.outcome or []],
        "results": [
            {"subject": r.subject, "result": r.result, "result_zh": RESULTS.get(r.result), "note": r.note,
             "recorded_seq": r.recorded_seq}
            for r in results
        ],  # fmt: skip
    }


def _named(item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    subject = str(item["subject"])
    return {**item, "name": names.get(subject.removeprefix("org:")) if subject.startswith("org:") else None}

