"""Random inspection draws (双随机、一公开): random subjects, random inspectors, public results.

Everything here is pure and deterministic, so that anyone holding the ledger can redo a draw
with their own code.  The algorithm (``anlian-draw-v1``) is:

**Random numbers.**  ``seed`` is 32 bytes (the root hash of the first checkpoint signed after
the announcement), ``stream`` the announcement's ``seq``, and a counter ``i`` starts at 0.
Block ``i`` is ``SHA-256(seed ‖ uint64_be(stream) ‖ uint64_be(i))``; every call uses the next
block.  A number below ``n`` is ``u mod n`` where ``u`` is the block's first 8 bytes read as a
big-endian unsigned integer, unless ``u ≥ 2**64 − (2**64 mod n)``: then the block is discarded
and the next one read (rejection sampling, so every number is exactly equally likely).  The
stream keeps two draws announced before the same checkpoint from sharing their numbers.

**Subjects.**  Candidates are sorted by subject (Unicode code points, the same as UTF-8 bytes);
each weighs the integer weight of its grade.  ``n`` times: ``r`` = a number below the total
weight of the remaining candidates; walk them in order subtracting weights and take the first
whose weight exceeds what is left of ``r``; remove it.  That is weighted sampling without
replacement; the selection order is kept.

**Inspectors.**  Then, for each selected subject in selection order: the eligible inspectors
are the pool's ids, sorted, less those assigned to that subject in the grid's previous draw;
``per_subject`` times, take the eligible inspector at index (a number below how many remain)
and remove it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.risk import GRADES
from ledger.errors import InvalidEntry

ALGORITHM = "anlian-draw-v1"
SEED_SIZE = 32
DEFAULT_WEIGHTS = {"A": 1, "B": 2, "C": 4, "D": 8}
DEFAULT_PER_SUBJECT = 2  # two law-enforcement officers on every inspection
MAX_WEIGHT = 1000
MAX_N = 1000
MAX_POOL = 500
MAX_PER_SUBJECT = 10
_TWO_64 = 1 << 64


class DrawImpossible(InvalidEntry):
    """The inputs cannot give a valid draw: too few candidates, or too few inspectors free of a
    subject they inspected last time."""

    title = "Draw impossible"
    type = "draw-impossible"
    status = 422


class DrawStream:
    """The draw's random numbers: SHA-256 in counter mode with rejection sampling."""

    def __init__(self, seed: bytes, stream: int) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("a draw's seed is 32 bytes: a checkpoint's root hash")
        if not 0 <= stream < _TWO_64:
            raise ValueError("the stream number must fit in 64 bits")
        self._prefix = seed + stream.to_bytes(8, "big")
        self.counter = 0

    def _word(self) -> int:
        block = hashlib.sha256(self._prefix + self.counter.to_bytes(8, "big")).digest()
        self.counter += 1
        return int.from_bytes(block[:8], "big")

    def below(self, n: int) -> int:
        """A number in ``range(n)``, every value equally likely."""
        if n <= 0:
            raise ValueError("below() needs a positive bound")
        limit = _TWO_64 - (_TWO_64 % n)
        while True:
            word = self._word()
            if word < limit:
                return word % n


@dataclass(frozen=True)
class Drawn:
    """One selected subject with its grade and inspectors (in the order they were drawn)."""

    subject: str
    grade: str
    inspectors: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "grade": self.grade, "inspectors": list(self.inspectors)}


@dataclass(frozen=True)
class DrawSpec:
    """Everything a draw depends on besides its seed, as announced in ``draw.announced``."""

    candidates: tuple[tuple[str, str], ...]  # (subject, grade)
    n: int
    pool: tuple[str, ...]  # inspector ids
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    previous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # subject → inspectors last time
    per_subject: int = DEFAULT_PER_SUBJECT

    def ordered_candidates(self) -> list[tuple[str, str]]:
        return sorted(self.candidates)

    def eligible(self, subject: str) -> list[str]:
        avoid = set(self.previous.get(subject, ()))
        return [inspector for inspector in sorted(set(self.pool)) if inspector not in avoid]


def validate_weights(value: Any) -> dict[str, int]:
    """Integer weights per grade from 0 to 1000; grades left out keep their default."""
    if value is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(value, dict) or set(value) - set(GRADES):
        raise InvalidEntry(f"weights must be an object with keys among {', '.join(GRADES)}")
    weights = dict(DEFAULT_WEIGHTS)
    for grade, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise InvalidEntry(f"weight of grade {grade} must be a whole number from 0 to {MAX_WEIGHT}")
        weights[grade] = weight
    return weights


def validate_count(value: Any, what: str, high: int, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidEntry(f"{what} must be a whole number from 1 to {high}")
    return value


def check_feasible(spec: DrawSpec) -> None:
    """Refuse inputs that could fail once the seed is known: every drawable candidate must have
    enough inspectors it did not have last time, and there must be ``n`` drawable candidates."""
    drawable = [(subject, grade) for subject, grade in spec.candidates if spec.weights.get(grade, 0) > 0]
    if len({subject for subject, _ in spec.candidates}) != len(spec.candidates):
        raise DrawImpossible("a subject appears twice among the candidates")
    if spec.n > len(drawable):
        raise DrawImpossible(f"{spec.n} subjects asked for, but only {len(drawable)} candidates have a positive weight")
    if len(set(spec.pool)) < spec.per_subject:
        raise DrawImpossible(f"{spec.per_subject} inspectors per subject need a pool of at least that many")
    for subject, _ in sorted(drawable):
        free = spec.eligible(subject)
        if len(free) < spec.per_subject:
            raise DrawImpossible(
                f"{subject} needs {spec.per_subject} inspectors who did not inspect it last time, "
                f"but the pool has only {len(free)}: add inspectors to the pool"
            )


def select_subjects(spec: DrawSpec, rng: DrawStream) -> list[tuple[str, str]]:
    """Weighted sampling without replacement, in selection order."""
    remaining = [(s, g) for s, g in spec.ordered_candidates() if spec.weights.get(g, 0) > 0]
    chosen: list[tuple[str, str]] = []
    for _ in range(spec.n):
        left = rng.below(sum(spec.weights[g] for _, g in remaining))
        for index, (_, grade) in enumerate(remaining):
            weight = spec.weights[grade]
            if left < weight:
                chosen.append(remaining.pop(index))
                break
            left -= weight
    return chosen


def assign_inspectors(spec: DrawSpec, subject: str, rng: DrawStream) -> tuple[str, ...]:
    eligible = spec.eligible(subject)
    if len(eligible) < spec.per_subject:
        raise DrawImpossible(f"{subject} has only {len(eligible)} eligible inspectors, {spec.per_subject} needed")
    return tuple(eligible.pop(rng.below(len(eligible))) for _ in range(spec.per_subject))


def run_draw(spec: DrawSpec, seed: bytes, stream: int) -> list[Drawn]:
    """The whole draw: subjects first, then inspectors for each, from one stream of numbers."""
    check_feasible(spec)
    rng = DrawStream(seed, stream)
    subjects = select_subjects(spec, rng)
    return [Drawn(subject, grade, assign_inspectors(spec, subject, rng)) for subject, grade in subjects]


def spec_from_inputs(inputs: Mapping[str, Any]) -> DrawSpec:
    """The spec as a ``draw.announced`` payload states it (see ``ledger.services.draws``)."""
    try:
        return DrawSpec(
            candidates=tuple((str(c["subject"]), str(c["grade"])) for c in inputs["candidates"]),
            n=int(inputs["n"]),
            pool=tuple(str(p["id"]) for p in inputs["pool"]),
            weights={str(k): int(v) for k, v in inputs["weights"].items()},
            previous={str(s): tuple(map(str, ids)) for s, ids in inputs["previous"]["assignments"].items()},
            per_subject=int(inputs["inspectors_per_subject"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidEntry(f"the announcement does not state a draw: {exc!r}") from exc


def outcome_dicts(drawn: Sequence[Drawn]) -> list[dict[str, Any]]:
    return [d.as_dict() for d in drawn]
