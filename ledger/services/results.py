"""What the public reads of random inspections and risk grades (双随机、一公开): per area of the
grid tree, the draws with their seed, the subjects drawn, the inspectors and each result; per
business, its current grade and its inspection history.

Read-only.  A page of draws costs the same few queries whatever its length (results, ledger
times, checkpoints and names are fetched for the whole page at once; a business's history adds
one count per draw, to link each to the page of its area that shows it), and only
what ``ledger.services.draws.public_draw`` already publishes leaves here: names of
organisations and inspectors, never contacts, addresses of persons or keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from ledger.db.tables import Draw, DrawResult, Grid, LedgerCheckpoint, LedgerEntry, Organisation, RiskGrade
from ledger.domain import grids as tree
from ledger.domain import risk
from ledger.domain.grids import GridNode
from ledger.errors import NotFound
from ledger.services.grids import list_grids

ORG_PREFIX = "org:"
EQUIPMENT_PREFIX = "equipment:"
ORG_ID_LIMIT = 32  # the column's width
SEARCH_ROWS = 200  # name matches read before leaving out organisations that are not businesses


def _org_subject(org_id: str) -> str:
    return f"{ORG_PREFIX}{org_id}"


def _business_grades() -> Any:
    return RiskGrade.subject.startswith(ORG_PREFIX, autoescape=True)


# --- areas of the grid tree -----------------------------------------------------------------


@dataclass(frozen=True)
class AreaSummary:
    """A node of the grid tree with what lies in it and below it: draws announced there and
    graded businesses by grade."""

    code: str
    name: str
    level: str
    depth: int
    draws: int
    grades: dict[str, int]

    @property
    def businesses(self) -> int:
        return sum(self.grades.values())


def _add(target: dict[str, int], source: dict[str, int]) -> None:
    for key, value in source.items():
        target[key] = target.get(key, 0) + value


def _rolled_up(nodes: Sequence[GridNode], direct: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Each node's counts plus those of every node below it (children come after their parent
    in tree order, so walking it backwards adds each subtree before its parent is read)."""
    totals = {node.code: dict(direct.get(node.code, {})) for node in nodes}
    for node in reversed(nodes):
        if node.parent_code in totals:
            _add(totals[node.parent_code], totals[node.code])
    return totals


@dataclass(frozen=True)
class _Tree:
    """The grid tree, read once per request (a city's few thousand rows) and walked in Python."""

    nodes: list[GridNode]  # tree order
    by_code: dict[str, GridNode]
    children: dict[str, list[str]]

    def under(self, code: str) -> list[str]:
        """``code`` and every code below it, sorted; empty for an unknown code."""
        if code not in self.by_code:
            return []
        return sorted({code} | tree.descendants([code], self.children))


def _tree(session: Session) -> _Tree:
    nodes = list_grids(session)
    return _Tree(nodes, {n.code: n for n in nodes}, tree.children_index({n.code: n.parent_code for n in nodes}))


def _summaries(session: Session, grid_tree: _Tree, only: Iterable[str] | None = None) -> list[AreaSummary]:
    direct: dict[str, dict[str, int]] = defaultdict(dict)
    for code, count in session.execute(select(Draw.grid_code, func.count()).group_by(Draw.grid_code)):
        _add(direct[code], {"draws": int(count)})
    graded = (
        select(RiskGrade.grid_code, RiskGrade.grade, func.count())
        .where(_business_grades(), RiskGrade.grid_code.is_not(None))
        .group_by(RiskGrade.grid_code, RiskGrade.grade)
    )
    for grid_code, grade, count in session.execute(graded):
        _add(direct[str(grid_code)], {str(grade): int(count)})
    totals = _rolled_up(grid_tree.nodes, direct)
    wanted = None if only is None else set(only)
    found = []
    for node in grid_tree.nodes:
        counts = totals[node.code]
        if not any(counts.values()) or (wanted is not None and node.code not in wanted):
            continue
        grades = {grade: counts.get(grade, 0) for grade in risk.GRADES}
        found.append(AreaSummary(node.code, node.name, node.level, tree.LEVELS.index(node.level),
                                 counts.get("draws", 0), grades))  # fmt: skip
    return found


def area_summaries(session: Session) -> list[AreaSummary]:
    """Every node, in tree order, that holds a draw or a graded business in or below it, with
    those counts."""
    return _summaries(session, _tree(session))


# --- draws ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """The signed checkpoint whose root hash seeded a draw."""

    tree_size: int
    root_hash: str
    signed_at: datetime


@dataclass(frozen=True)
class DrawnSubject:
    """One subject a draw picked: a business (``org_id``) or an equipment unit (``code``)."""

    subject: str
    org_id: str | None
    equipment_code: str | None
    name: str | None
    grade: str  # as of the announcement
    inspectors: tuple[str, ...]  # names from the announced pool
    result: str | None = None  # compliant, non_compliant or not_found; None until recorded
    note: str | None = None
    result_seq: int | None = None
    result_at: datetime | None = None


@dataclass(frozen=True)
class PublicDraw:
    announced_seq: int
    grid_code: str
    grid_name: str | None
    announced_by: str | None  # the bureau's name
    announced_at: datetime
    kind: str | None  # None: businesses and units alike
    n: int
    candidates: int
    pool: int
    per_subject: int
    weights: dict[str, int]
    drawn_seq: int | None
    drawn_at: datetime | None
    seed: Seed | None
    drawn: list[DrawnSubject] = field(default_factory=list)

    @property
    def performed(self) -> bool:
        return self.drawn_seq is not None


def _names(session: Session, org_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(org_ids))
    if not wanted:
        return {}
    return dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))).all())


def _times(session: Session, seqs: Iterable[int]) -> dict[int, datetime]:
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    query = select(LedgerEntry.seq, LedgerEntry.recorded_at).where(LedgerEntry.seq.in_(wanted))
    return dict(session.execute(query).all())


def _seeds(session: Session, sizes: Iterable[int]) -> dict[int, Seed]:
    wanted = sorted(set(sizes))
    if not wanted:
        return {}
    query = select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size.in_(wanted))
    return {
        row.tree_size: Seed(row.tree_size, bytes(row.root_hash).hex(), row.signed_at) for row in session.scalars(query)
    }


def _subject_parts(subject: str) -> tuple[str | None, str | None]:
    if subject.startswith(ORG_PREFIX):
        return subject.removeprefix(ORG_PREFIX), None
    if subject.startswith(EQUIPMENT_PREFIX):
        return None, subject.removeprefix(EQUIPMENT_PREFIX)
    return None, None


def public_draws(session: Session, rows: Sequence[Draw]) -> list[PublicDraw]:
    """The public view of ``rows``, in their order, with five queries for all of them."""
    ids = [row.id for row in rows]
    results: dict[tuple[int, str], DrawResult] = {}
    if ids:
        for found in session.scalars(select(DrawResult).where(DrawResult.draw_id.in_(ids))):
            results[(found.draw_id, found.subject)] = found
    times = _times(session, [r.drawn_seq for r in rows if r.drawn_seq is not None]
                   + [found.recorded_seq for found in results.values()])  # fmt: skip
    seeds = _seeds(session, [row.seed_tree_size for row in rows if row.seed_tree_size is not None])
    subjects = [str(item["subject"]) for row in rows for item in row.outcome or []]
    names = _names(session, [*(o for o, _ in map(_subject_parts, subjects) if o), *(r.announced_by for r in rows)])
    areas = sorted({row.grid_code for row in rows})
    grid_names = dict(session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(areas))).all()) if areas else {}
    shown = []
    for row in rows:
        inputs = row.inputs
        pool = {str(member["id"]): str(member["name"]) for member in inputs.get("pool", [])}
        drawn = []
        for item in row.outcome or []:
            subject = str(item["subject"])
            org_id, code = _subject_parts(subject)
            result = results.get((row.id, subject))
            drawn.append(
                DrawnSubject(
                    subject=subject,
                    org_id=org_id,
                    equipment_code=code,
                    name=names.get(org_id) if org_id else None,
                    grade=str(item["grade"]),
                    inspectors=tuple(pool.get(str(i), str(i)) for i in item["inspectors"]),
                    result=result.result if result else None,
                    note=result.note if result else None,
                    result_seq=result.recorded_seq if result else None,
                    result_at=times.get(result.recorded_seq) if result else None,
                )
            )
        shown.append(
            PublicDraw(
                announced_seq=row.announced_seq,
                grid_code=row.grid_code,
                grid_name=grid_names.get(row.grid_code),
                announced_by=names.get(row.announced_by),
                announced_at=row.announced_at,
                kind=inputs.get("kind"),
                n=int(inputs["n"]),
                candidates=len(inputs.get("candidates", [])),
                pool=len(pool),
                per_subject=int(inputs["inspectors_per_subject"]),
                weights={str(k): int(v) for k, v in inputs.get("weights", {}).items()},
                drawn_seq=row.drawn_seq,
                drawn_at=times.get(row.drawn_seq) if row.drawn_seq is not None else None,
                seed=seeds.get(row.seed_tree_size) if row.seed_tree_size is not None else None,
                drawn=drawn,
            )
        )
    return shown


@dataclass(frozen=True)
class Page:
    """One page of a longer list: its rows, how many there are in all, which page it is."""

    items: list[Any]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def _paged(session: Session, query: Any, page: int, size: int) -> tuple[list[Any], int]:
    """Rows ``page`` of ``query`` and how many there are in all.  The count comes first, so a
    page past the end reads no rows (and never asks the database for an absurd offset)."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    if (page - 1) * size >= total:
        return [], total
    return list(session.execute(query.offset((page - 1) * size).limit(size)).all()), total


@dataclass(frozen=True)
class AreaPage:
    """One area of the grid tree as the public sees it."""

    node: GridNode
    ancestors: list[GridNode]  # city first
    below: list[AreaSummary]  # the children holding anything published
    grades: dict[str, int]  # graded businesses in the area by grade
    draws: Page  # of PublicDraw, newest first
    businesses: Page  # of BusinessGrade, by name


def area_page(session: Session, code: str, draws_page: int, draws_size: int, businesses_page: int,
              businesses_size: int) -> AreaPage:  # fmt: skip
    """The draws announced for ``code`` or any node below it, its graded businesses, their
    counts by grade and its children; :class:`NotFound` for an unknown code."""
    grid_tree = _tree(session)
    node = grid_tree.by_code.get(code)
    if node is None:
        raise NotFound(f"there is no grid-tree node with code {code!r}")
    codes = grid_tree.under(code)
    parent_of = {n.code: n.parent_code for n in grid_tree.nodes}
    ancestors = [grid_tree.by_code[above] for above in tree.ancestors(code, parent_of)]
    below = _summaries(session, grid_tree, grid_tree.children.get(code, []))

    in_area = select(Draw).where(Draw.grid_code.in_(codes)).order_by(Draw.announced_seq.desc())
    rows, total = _paged(session, in_area, draws_page, draws_size)
    draws = Page(public_draws(session, [row for (row,) in rows]), total, draws_page, draws_size)

    graded = (
        select(RiskGrade, Organisation.name)
        .join(Organisation, RiskGrade.subject == ORG_PREFIX + Organisation.id)
        .where(RiskGrade.grid_code.in_(codes))
        .order_by(Organisation.name, Organisation.id)
    )
    rows, total = _paged(session, graded, businesses_page, businesses_size)
    items = [_with_grade(row.subject.removeprefix(ORG_PREFIX), name, row) for row, name in rows]
    businesses = Page(items, total, businesses_page, businesses_size)

    by_grade = (
        select(RiskGrade.grade, func.count())
        .where(_business_grades(), RiskGrade.grid_code.in_(codes))
        .group_by(RiskGrade.grade)
    )
    counts = {str(grade): int(count) for grade, count in session.execute(by_grade)}
    grades = {grade: counts.get(grade, 0) for grade in risk.GRADES}
    return AreaPage(node, ancestors, below, grades, draws, businesses)


def _draw_pages(session: Session, grid_tree: _Tree, draws: Iterable[PublicDraw], size: int) -> dict[int, int]:
    """For each draw, the page of its area's draw list (newest first) on which it is shown."""
    pages = {}
    for draw in draws:
        newer = (
            select(func.count())
            .select_from(Draw)
            .where(Draw.grid_code.in_(grid_tree.under(draw.grid_code)), Draw.announced_seq > draw.announced_seq)
        )
        pages[draw.announced_seq] = int(session.scalar(newer) or 0) // size + 1
    return pages


# --- businesses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessGrade:
    org_id: str
    name: str
    grid_code: str | None
    grade: str | None  # None: not graded yet
    score: float | None = None
    reasons: tuple[dict[str, Any], ...] = ()
    graded_on: date | None = None
    graded_seq: int | None = None


def _with_grade(org_id: str, name: str, row: RiskGrade | None) -> BusinessGrade:
    if row is None:
        return BusinessGrade(org_id, name, None, None)
    return BusinessGrade(org_id, name, row.grid_code, row.grade, row.score, tuple(row.reasons), row.graded_on,
                         row.graded_seq)  # fmt: skip


def _is_business(roles: Iterable[str]) -> bool:
    return bool(risk.GRADED_ROLES.intersection(roles))


def search_businesses(session: Session, text: str, limit: int) -> tuple[list[BusinessGrade], bool]:
    """Businesses whose name contains ``text`` (case-insensitive), by name, at most ``limit``;
    the flag says whether more matched.  Bureaus and inspection agencies are not businesses."""
    query = (
        select(Organisation.id, Organisation.name, Organisation.roles)
        .where(Organisation.name.icontains(text, autoescape=True))
        .order_by(Organisation.name, Organisation.id)
        .limit(SEARCH_ROWS)
    )
    matches = [(org_id, name) for org_id, name, roles in session.execute(query) if _is_business(roles)]
    shown = matches[:limit]
    subjects = [_org_subject(org_id) for org_id, _ in shown]
    grades = {row.subject: row for row in session.scalars(select(RiskGrade).where(RiskGrade.subject.in_(subjects)))}
    return [_with_grade(org_id, name, grades.get(_org_subject(org_id))) for org_id, name in shown], len(matches) > limit


@dataclass(frozen=True)
class Inspection:
    """A draw that picked the business, and what came of it."""

    draw: PublicDraw
    drawn: DrawnSubject


@dataclass(frozen=True)
class BusinessRecord:
    business: BusinessGrade
    grid: GridNode | None
    history: list[Inspection]  # newest draw first
    pages: dict[int, int]  # announced seq → the page of its area's draw list that shows it


def business_record(session: Session, org_id: str, draws_size: int) -> BusinessRecord:
    """A business's current grade and every draw that picked it; :class:`NotFound` for an
    unknown id and for organisations that are not graded businesses (bureaus, agencies)."""
    if len(org_id) > ORG_ID_LIMIT or not org_id.isprintable():
        raise NotFound(f"there is no business with id {org_id!r}")  # no such id was ever issued
    org = session.get(Organisation, org_id)
    subject = _org_subject(org_id)
    grade = session.get(RiskGrade, subject) if org is not None else None
    if org is None or (grade is None and not _is_business(org.roles)):
        raise NotFound(f"there is no business with id {org_id!r}")
    grid = session.get(Grid, grade.grid_code) if grade is not None and grade.grid_code else None
    # The outcome is JSON; its text holds the subject in quotes.  The text match narrows the
    # rows in the database, the exact comparison below drops any other value that happens to
    # contain the same characters.
    rows = session.scalars(
        select(Draw)
        .where(cast(Draw.outcome, Text).contains(f'"{subject}"', autoescape=True))
        .order_by(Draw.announced_seq.desc())
    ).all()
    picked = [row for row in rows if any(item.get("subject") == subject for item in row.outcome or [])]
    history = [
        Inspection(draw, item)
        for draw in public_draws(session, picked)
        for item in draw.drawn
        if item.subject == subject
    ]
    node = GridNode(grid.code, grid.name, grid.level, grid.parent_code) if grid is not None else None
    pages = _draw_pages(session, _tree(session), [item.draw for item in history], draws_size) if history else {}
    return BusinessRecord(_with_grade(org.id, org.name, grade), node, history, pages)
