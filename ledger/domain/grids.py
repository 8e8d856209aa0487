"""The supervision grid tree (网格化): its four levels, its CSV form, and the roll-up.

"人在网中走，事在格中办": every business site and piece of equipment sits in one management
grid, and a bureau answers for everything below it.  The tree is maintained as a CSV that
bureaus edit in a spreadsheet, so parsing is strict and reports every problem with its line at
once: an administrator fixes the file in one pass instead of one error per upload.

Pure functions over :class:`GridNode`; the database side is ``ledger.services.grids``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.errors import InvalidEntry

LEVELS: Final = ("city", "district", "station", "grid")
"""市局 → 区县局 → 监管所 → 管理网格, top down: a node's parent is exactly one level up."""

HEADER: Final = ("code", "name", "level", "parent_code")
MAX_NAME: Final = 200
# Codes go into URLs and file names, so a small alphabet.  The first character must not be
# "-": a spreadsheet reads "-A1" as a formula when the exported CSV is opened.
_CODE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,31}")
# Cells a spreadsheet would evaluate (CSV formula injection); no real bureau name starts so.
_FORMULA_START: Final = ("=", "+", "-", "@")


@dataclass(frozen=True, slots=True)
class GridNode:
    """One node of the tree: a city bureau, district bureau, supervision station or grid."""

    code: str
    name: str
    level: str
    parent_code: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "name": self.name, "level": self.level, "parent_code": self.parent_code}


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class GridCsvError(InvalidEntry):
    """A grid CSV that cannot be imported; ``problems`` lists every fault with its line."""

    title = "Invalid grid CSV"
    type = "invalid-grid-csv"

    def __init__(self, problems: Iterable[CsvProblem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        count = len(self.problems)
        summary = f"the grid CSV has {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([summary, *map(str, self.problems)]))


# --- parsing ------------------------------------------------------------------------------


def parse_csv(data: str | bytes, existing: Iterable[GridNode] = ()) -> list[GridNode]:
    """The nodes of a grid CSV, in file order, or :class:`GridCsvError` listing every problem.

    ``existing`` is the tree already stored: a parent may be defined there instead of in the
    file, and a node already there may be renamed but not moved to another level or parent
    (sites, equipment and inspectors' scopes hang off it).

    Cycles need no separate search: every parent must be exactly one level above its child and
    a city has no parent, so following parents strictly climbs the levels and ends at a city.
    """
    records, problems = _records(_decode(data))
    known = {node.code: node for node in existing}
    nodes: list[tuple[int, GridNode]] = []
    first_line: dict[str, int] = {}
    for line, fields in records:
        node, found = _node(line, fields)
        problems.extend(found)
        if node is None or _code_problem("code", node.code):
            continue
        if node.code in first_line:
            problems.append(CsvProblem(line, f"code {node.code} is already defined on line {first_line[node.code]}"))
            continue
        first_line[node.code] = line
        nodes.append((line, node))
    # A stored node keeps its level (changing it is refused), so its children are checked
    # against the stored level, not against a refused line.
    levels = {node.code: node.level for _, node in nodes} | {code: node.level for code, node in known.items()}
    for line, node in nodes:
        problems.extend(CsvProblem(line, message) for message in _placement_problems(node, levels, known))
    if problems:
        raise GridCsvError(problems)
    return [node for _, node in nodes]


def _decode(data: str | bytes) -> str:
    """Text without the byte-order mark that Excel's "CSV UTF-8" puts first."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = "the file is not UTF-8; save it as 'CSV UTF-8' (GBK and other encodings are refused)"
        raise GridCsvError([CsvProblem(line, message)]) from exc


def _records(text: str) -> tuple[list[tuple[int, list[str]]], list[CsvProblem]]:
    """Data rows with the line each starts on (a quoted cell may span lines), after the header."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    problems: list[CsvProblem] = []
    start = 1
    try:
        for fields in reader:
            if start == 1:
                if tuple(fields) != HEADER:
                    problems.append(CsvProblem(1, f"the header must be exactly {','.join(HEADER)}"))
                    return records, problems
            elif fields:  # blank lines carry nothing
                records.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(CsvProblem(start, f"malformed CSV ({exc}); nothing after this line was read"))
    if start == 1 and not problems:
        problems.append(CsvProblem(1, f"the file is empty; it must start with the header {','.join(HEADER)}"))
    return records, problems


def _node(line: int, fields: Sequence[str]) -> tuple[GridNode | None, list[CsvProblem]]:
    """The row as a node with its cells trimmed (spreadsheets pad them), and its field errors."""
    if len(fields) != len(HEADER):
        return None, [CsvProblem(line, f"expected {len(HEADER)} fields ({','.join(HEADER)}), found {len(fields)}")]
    code, name, level, parent = (cell.strip() for cell in fields)
    node = GridNode(code, " ".join(name.split()), level, parent or None)
    messages = (
        _code_problem("code", node.code),
        _name_problem(node.name),
        None if level in LEVELS else f"level {level!r} is not one of {', '.join(LEVELS)}",
        _code_problem("parent_code", parent) if parent else None,
    )
    return node, [CsvProblem(line, message) for message in messages if message]


def _code_problem(field: str, code: str) -> str | None:
    if _CODE.fullmatch(code):
        return None
    return f"{field} {code!r} must be 1 to 32 letters, digits or '-', not starting with '-'"


def _name_problem(name: str) -> str | None:
    if not 0 < len(name) <= MAX_NAME:
        return f"name must be 1 to {MAX_NAME} characters"
    if name.startswith(_FORMULA_START):
        return f"name {name!r} must not start with {' '.join(_FORMULA_START)} (spreadsheets run such cells)"
    if not name.isprintable():
        return "name must not contain control characters"
    return None


def _placement_problems(node: GridNode, levels: Mapping[str, str], known: Mapping[str, GridNode]) -> Iterator[str]:
    """Where the node hangs: its level and parent against the file and the stored tree."""
    if node.level not in LEVELS:
        return  # reported with the row
    stored = known.get(node.code)
    if stored is not None and (stored.level, stored.parent_code) != (node.level, node.parent_code):
        yield (
            f"{node.code} is already a {stored.level} under {stored.parent_code or 'no parent'}; "
            "an import may rename a node but not change its level or parent"
        )
        return
    depth = LEVELS.index(node.level)
    if depth == 0:
        if node.parent_code is not None:
            yield f"a city has no parent_code, found {node.parent_code}"
        return
    wanted = LEVELS[depth - 1]
    parent = node.parent_code
    if parent is None:
        yield f"a {node.level} needs a parent_code: the code of its {wanted}"
    elif _code_problem("parent_code", parent):
        return  # reported with the row
    elif parent not in levels:
        yield f"parent_code {parent} is neither in this file nor in the stored tree"
    elif levels[parent] in LEVELS and levels[parent] != wanted:
        yield f"parent {parent} is a {levels[parent]}; the parent of a {node.level} must be a {wanted}"


# --- writing ------------------------------------------------------------------------------


def tree_order(nodes: Iterable[GridNode]) -> list[GridNode]:
    """Depth first, siblings by code: parents before children, and each district's stations
    and grids together, as a person reading the CSV expects.  The same nodes always give the
    same order, whatever order they came in."""
    by_code = {node.code: node for node in nodes}
    children = children_index({code: node.parent_code for code, node in by_code.items()})
    roots = sorted((n for n in by_code.values() if n.parent_code not in by_code), key=_level_then_code, reverse=True)
    ordered: list[GridNode] = []
    stack = roots
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(by_code[code] for code in reversed(children.get(node.code, [])))
    if len(ordered) != len(by_code):
        raise ValueError("the grid nodes contain a cycle")
    return ordered


def _level_then_code(node: GridNode) -> tuple[int, str]:
    return LEVELS.index(node.level), node.code


def to_csv(nodes: Iterable[GridNode]) -> str:
    """The CSV that :func:`parse_csv` reads back to the same nodes, in :func:`tree_order`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows((n.code, n.name, n.level, n.parent_code or "") for n in tree_order(nodes))
    return buffer.getvalue()


# --- roll-up ------------------------------------------------------------------------------


def children_index(parent_of: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Each parent's children, sorted by code, from the child → parent map."""
    children: dict[str, list[str]] = {}
    for code in sorted(parent_of):
        parent = parent_of[code]
        if parent is not None:
            children.setdefault(parent, []).append(code)
    return children


def ancestors(code: str, parent_of: Mapping[str, str | None]) -> list[str]:
    """The codes above ``code``, city first (a breadcrumb); empty for a city or unknown code."""
    chain: list[str] = []
    parent = parent_of.get(code)
    while parent is not None:
        if parent == code or parent in chain:
            raise ValueError(f"the grid tree has a cycle through {parent}")
        chain.append(parent)
        parent = parent_of.get(parent)
    return chain[::-1]


def descendants(codes: Iterable[str], children_of: Mapping[str, Sequence[str]]) -> set[str]:
    """Every code strictly below any of ``codes``: a district's stations and their grids."""
    found: set[str] = set()
    pending = list(codes)
    while pending:
        for child in children_of.get(pending.pop(), ()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def covers(scope_codes: Collection[str], code: str, parent_of: Mapping[str, str | None]) -> bool:
    """Whether a scope (an inspector's nodes) includes ``code``: the node itself or one above it."""
    return code in scope_codes or any(above in scope_codes for above in ancestors(code, parent_of))
