"""The grid tree in the database: CSV import (a ledger entry), export, browsing and roll-up.

Each import that changes the roster appends one ``grids.imported`` entry in the same
transaction as the rows, so the ledger records who added or renamed which node and from which
file.  An import that changes nothing appends nothing: retrying a request is harmless.

A city's tree is a few thousand rows, so reads load it whole in one query and walk it in
Python (``ledger.domain.grids``) rather than in recursive SQL that differs per database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Grid
from ledger.domain import grids
from ledger.domain.access import Principal
from ledger.domain.grids import GridNode
from ledger.errors import NotFound

IMPORTED_KIND = "grids.imported"
SUBJECT = "grids"


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    sha256: str  # of the CSV bytes as received
    seq: int | None = None  # the grids.imported entry; None when the file changed nothing

    @property
    def changed(self) -> bool:
        return self.seq is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "sha256": self.sha256,
            "seq": self.seq,
            "changed": self.changed,
        }


@dataclass(frozen=True)
class GridDetail:
    node: GridNode
    ancestors: list[GridNode]  # city first
    children: list[GridNode]


def import_grids(session: Session, csv_text: str | bytes, actor: dict[str, str]) -> ImportResult:
    """Add the file's new nodes and rename changed ones, in the caller's transaction.

    Raises :class:`ledger.domain.grids.GridCsvError` (listing every bad line) before anything
    is written.  Nodes the file leaves out are kept: sites and scopes refer to them.
    """
    data = csv_text.encode() if isinstance(csv_text, str) else csv_text
    digest = hashlib.sha256(data).hexdigest()
    # Take the ledger's append lock before reading: a concurrent identical retry then sees
    # this import's rows and finds nothing to do, instead of appending a second entry.
    store.lock(session)
    stored = {node.code: node for node in _nodes(session)}
    nodes = grids.tree_order(grids.parse_csv(data, stored.values()))
    created = [node for node in nodes if node.code not in stored]
    updated = [node for node in nodes if node.code in stored and stored[node.code].name != node.name]
    unchanged = len(nodes) - len(created) - len(updated)
    if not created and not updated:
        return ImportResult(0, 0, unchanged, digest)
    counts = {"created": len(created), "updated": len(updated), "unchanged": unchanged}
    (appended,) = store.append(
        session,
        [
            store.NewEvent(
                kind=IMPORTED_KIND,
                subject=SUBJECT,
                actor=actor,
                payload={
                    "sha256": digest,
                    "counts": counts,
                    "created": [node.as_dict() for node in created],
                    "updated": [node.as_dict() for node in updated],
                },
            )
        ],
    )
    if created:  # in tree order: a parent's row exists before its children's foreign keys
        session.execute(insert(Grid), [{**node.as_dict(), "updated_seq": appended.seq} for node in created])
    if updated:
        session.execute(
            update(Grid), [{"code": node.code, "name": node.name, "updated_seq": appended.seq} for node in updated]
        )
    return ImportResult(len(created), len(updated), unchanged, digest, appended.seq)


def export_grids(session: Session) -> str:
    """The whole tree as CSV, in the form :func:`import_grids` reads back unchanged."""
    return grids.to_csv(_nodes(session))


def list_grids(
    session: Session,
    level: str | None = None,
    parent: str | None = None,
    under: str | None = None,
    q: str | None = None,
) -> list[GridNode]:
    """Nodes in tree order, filtered: ``under`` is a node and everything below it (as a scope
    is), ``q`` a case-insensitive piece of the name or code."""
    nodes = _nodes(session)
    if under is not None:
        inside = _subtree({node.code: node.parent_code for node in nodes}, [under])
        nodes = [node for node in nodes if node.code in inside]
    if level is not None:
        nodes = [node for node in nodes if node.level == level]
    if parent is not None:
        nodes = [node for node in nodes if node.parent_code == parent]
    if q:
        needle = q.casefold()
        nodes = [node for node in nodes if needle in node.name.casefold() or needle in node.code.casefold()]
    return grids.tree_order(nodes)


def grid_detail(session: Session, code: str) -> GridDetail:
    """A node with its breadcrumb and its children; :class:`NotFound` for an unknown code."""
    by_code = {node.code: node for node in _nodes(session)}
    node = by_code.get(code)
    if node is None:
        raise NotFound(f"there is no grid-tree node with code {code!r}")
    parent_of = {c: n.parent_code for c, n in by_code.items()}
    children = grids.children_index(parent_of).get(code, [])
    return GridDetail(
        node,
        [by_code[above] for above in grids.ancestors(code, parent_of)],
        [by_code[child] for child in children],
    )


def grid_codes_under(session: Session, scope_codes: Iterable[str]) -> set[str]:
    """Every stored code a scope covers: its nodes and all below them.  Lists of sites or
    equipment filter on this, so an inspector scoped to a district sees all its grids."""
    parent_of: dict[str, str | None] = dict(session.execute(select(Grid.code, Grid.parent_code)).all())
    return _subtree(parent_of, scope_codes)


def _subtree(parent_of: dict[str, str | None], codes: Iterable[str]) -> set[str]:
    roots = {code for code in codes if code in parent_of}
    return roots | grids.descendants(roots, grids.children_index(parent_of))


def _nodes(session: Session) -> list[GridNode]:
    rows = session.execute(select(Grid.code, Grid.name, Grid.level, Grid.parent_code))
    return [GridNode(code, name, level, parent) for code, name, level, parent in rows]


def in_scope(session: Session, principal: Principal, grid_code: str) -> bool:
    """Whether an inspector's grids cover ``grid_code`` (a district covers all below it)."""
    parent_of: dict[str, str | None] = {
        code: parent for code, parent in session.execute(select(Grid.code, Grid.parent_code))
    }
    return grids.covers(principal.scopes, grid_code, parent_of)
