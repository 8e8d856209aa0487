"""Risk grades and random inspection draws, pure: the rule table, the thresholds, the draw's
random numbers, weighting, the no-repeat rule for inspectors, and known answers that an
outside re-implementation must reproduce."""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from dataclasses import replace

import pytest

from ledger.domain import draw, risk
from ledger.domain.draw import DrawImpossible, DrawSpec, DrawStream, run_draw
from ledger.services import draws as draw_service

SEED = hashlib.sha256(b"anlian").digest()

# What each row alone can do to a subject: (points per occurrence, cap, the grade at the cap).
DOCUMENTED = {
    "maintenance_overdue_days": (1, 30, "D"),
    "inspection_failed": (10, 20, "C"),
    "hazard_late": (5, 20, "C"),
    "entrapment": (2, 10, "B"),
    "late_arrival": (5, 15, "C"),
    "temperature_excursion": (5, 25, "C"),
    "untraced_receipt": (5, 25, "C"),
    "shipment_unreceived": (3, 15, "C"),
    "expired_held": (10, 30, "D"),
    "maintained_overdue_days": (0.5, 30, "D"),
    "maintained_late_arrivals": (5, 20, "C"),
}


# --- the rule table -------------------------------------------------------------------------


def test_the_table_is_the_documented_data() -> None:
    table = risk.DEFAULT_TABLE
    assert {rule.name: (rule.points, rule.cap) for rule in table.rules} == {
        name: (points, cap) for name, (points, cap, _) in DOCUMENTED.items()
    }
    assert all(rule.description_zh and rule.description_en for rule in table.rules)
    assert table.thresholds == (("A", 0.0), ("B", 5.0), ("C", 15.0), ("D", 30.0))


@pytest.mark.parametrize("rule", risk.RULES, ids=lambda rule: rule.name)
def test_each_row_moves_the_grade_as_documented(rule: risk.RiskRule) -> None:
    points, cap, worst = DOCUMENTED[rule.name]
    subject = "equipment:1" if rule.applies_to == risk.EQUIPMENT else "org:1"
    nothing = risk.grade_subject(subject, rule.applies_to, {})
    assert (nothing.grade, nothing.score, nothing.reasons) == ("A", 0.0, ())
    once = risk.grade_subject(subject, rule.applies_to, {rule.name: 1})
    assert once.score == points and once.reasons == ({"rule": rule.name, "count": 1, "points": points},)
    enough_for_b = int(-(-5 // points))  # the fewest occurrences worth 5 points
    assert risk.grade_subject(subject, rule.applies_to, {rule.name: enough_for_b - 1}).grade == "A"
    assert risk.grade_subject(subject, rule.applies_to, {rule.name: enough_for_b}).grade in ("B", "C", "D")
    flood = risk.grade_subject(subject, rule.applies_to, {rule.name: 10_000})
    assert flood.score == cap and flood.grade == worst
    other_kind = risk.BUSINESS if rule.applies_to == risk.EQUIPMENT else risk.EQUIPMENT
    assert risk.grade_subject(subject, other_kind, {rule.name: 10_000}).grade == "A"  # rows apply to their kind


@pytest.mark.parametrize(
    "score, grade",
    [(0, "A"), (4.99, "A"), (5, "B"), (14.99, "B"), (15, "C"), (29.99, "C"), (30, "D"), (10_000, "D")],
)
def test_threshold_boundaries(score: float, grade: str) -> None:
    assert risk.DEFAULT_TABLE.grade_of(score) == grade


def test_points_of_several_rows_add_up_and_reasons_keep_table_order() -> None:
    graded = risk.grade_subject(
        "equipment:1", risk.EQUIPMENT, {"late_arrival": 1, "maintenance_overdue_days": 12, "entrapment": 2}
    )
    assert graded.score == 12 + 4 + 5 and graded.grade == "C"
    assert [r["rule"] for r in graded.reasons] == ["maintenance_overdue_days", "entrapment", "late_arrival"]


def test_a_changed_table_has_another_hash_and_bad_tables_are_refused() -> None:
    table = risk.DEFAULT_TABLE
    stricter = replace(table, rules=(replace(table.rules[0], points=2), *table.rules[1:]))
    assert stricter.sha256() != table.sha256() and len(table.sha256()) == 64
    with pytest.raises(ValueError, match="thresholds"):
        replace(table, thresholds=(("A", 0.0), ("B", 15.0), ("C", 5.0), ("D", 30.0)))
    with pytest.raises(ValueError, match="repeat"):
        replace(table, rules=(table.rules[0], table.rules[0]))


def test_the_published_digest_is_sha256_of_the_canonical_list() -> None:
    gradings = [risk.Grading("org:b", "C", 17.5, ()), risk.Grading("equipment:1", "A", 0.0, ())]
    expected = hashlib.sha256(b'[["equipment:1","A",0],["org:b","C",17.5]]').hexdigest()
    assert risk.grades_sha256(gradings) == expected == risk.grades_sha256(reversed(gradings))


# --- the draw's random numbers --------------------------------------------------------------


def _reference_below(seed: bytes, stream: int, counter: int, n: int) -> tuple[int, int]:
    """The documented generator, written out again: (number, next counter)."""
    while True:
        block = hashlib.sha256(seed + stream.to_bytes(8, "big") + counter.to_bytes(8, "big")).digest()
        counter += 1
        word = int.from_bytes(block[:8], "big")
        if word < 2**64 - 2**64 % n:
            return word % n, counter


def test_stream_known_answers() -> None:
    stream = DrawStream(SEED, 7)
    assert [stream.below(1000) for _ in range(5)] == [740, 931, 286, 455, 821]
    stream, counter = DrawStream(SEED, 7), 0
    for n in (1, 2, 3, 1000, 2**63 + 1):
        expected, counter = _reference_below(SEED, 7, counter, n)
        assert stream.below(n) == expected
    with pytest.raises(ValueError):
        DrawStream(b"short seed", 0)


def _reference_draw(spec: DrawSpec, seed: bytes, stream: int) -> list[tuple[str, str, tuple[str, ...]]]:
    counter = 0
    remaining = sorted(c for c in spec.candidates if spec.weights[c[1]] > 0)
    chosen = []
    for _ in range(spec.n):
        r, counter = _reference_below(seed, stream, counter, sum(spec.weights[g] for _, g in remaining))
        index = 0
        while r >= spec.weights[remaining[index][1]]:
            r -= spec.weights[remaining[index][1]]
            index += 1
        chosen.append(remaining.pop(index))
    out = []
    for subject, grade in chosen:
        eligible = sorted(set(spec.pool) - set(spec.previous.get(subject, ())))
        picked = []
        for _ in range(spec.per_subject):
            i, counter = _reference_below(seed, stream, counter, len(eligible))
            picked.append(eligible.pop(i))
        out.append((subject, grade, tuple(picked)))
    return out


SMALL = DrawSpec(
    candidates=(("org:a", "A"), ("org:b", "B"), ("org:c", "C"), ("org:d", "D"), ("equipment:1", "D"),
                ("equipment:2", "A")),
    n=3,
    pool=("p1", "p2", "p3", "p4"),
    previous={"org:d": ("p1",)},
)  # fmt: skip


def test_a_small_draw_known_answer() -> None:
    drawn = run_draw(SMALL, SEED, 7)
    assert [(d.subject, d.grade, d.inspectors) for d in drawn] == [
        ("org:c", "C", ("p4", "p1")),
        ("org:b", "B", ("p2", "p4")),
        ("equipment:1", "D", ("p2", "p1")),
    ]
    assert draw.outcome_dicts(drawn)[0] == {"subject": "org:c", "grade": "C", "inspectors": ["p4", "p1"]}


def test_the_draw_is_what_the_documentation_says() -> None:
    for number in range(40):
        seed = hashlib.sha256(number.to_bytes(4, "big")).digest()
        drawn = run_draw(SMALL, seed, number)
        assert [(d.subject, d.grade, d.inspectors) for d in drawn] == _reference_draw(SMALL, seed, number)


def test_order_of_the_inputs_does_not_matter_but_the_stream_does() -> None:
    shuffled = replace(SMALL, candidates=tuple(reversed(SMALL.candidates)), pool=("p4", "p3", "p2", "p1"))
    assert run_draw(shuffled, SEED, 7) == run_draw(SMALL, SEED, 7)
    outcomes = {tuple(d.subject for d in run_draw(SMALL, SEED, stream)) for stream in range(20)}
    assert len(outcomes) > 1


# --- weighting and the inspectors -----------------------------------------------------------


def test_weighting_favours_d_over_a() -> None:
    candidates = tuple((f"org:a{i:02}", "A") for i in range(10)) + tuple((f"org:d{i:02}", "D") for i in range(10))
    spec = DrawSpec(candidates=candidates, n=1, pool=("p1", "p2"))
    picks = Counter(run_draw(spec, SEED, stream)[0].grade for stream in range(3000))
    assert picks["D"] / 3000 == pytest.approx(8 / 9, abs=0.03)  # weight 8 against 1
    zero_a = replace(spec, weights={**draw.DEFAULT_WEIGHTS, "A": 0}, n=10)
    assert {d.grade for d in run_draw(zero_a, SEED, 1)} == {"D"}


def test_nobody_inspects_the_same_subject_twice_in_a_row() -> None:
    spec = DrawSpec(candidates=(("org:x", "B"), ("org:y", "B")), n=2, pool=("p1", "p2", "p3", "p4"),
                    previous={"org:x": ("p1", "p2"), "org:y": ("p3",)})  # fmt: skip
    for stream in range(200):
        for drawn in run_draw(spec, SEED, stream):
            assert not set(drawn.inspectors) & set(spec.previous[drawn.subject])
            assert len(set(drawn.inspectors)) == 2
    impossible = replace(spec, previous={"org:x": ("p1", "p2", "p3")})
    with pytest.raises(DrawImpossible, match="org:x needs 2 inspectors who did not inspect it last time"):
        run_draw(impossible, SEED, 0)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"n": 7}, "only 6 candidates"),
        ({"pool": ("p1",)}, "pool of at least"),
        ({"weights": {"A": 0, "B": 0, "C": 0, "D": 0}}, "only 0 candidates"),
        ({"candidates": (("org:a", "A"), ("org:a", "B"))}, "twice"),
    ],
)
def test_impossible_draws_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(DrawImpossible, match=message):
        draw.check_feasible(replace(SMALL, **changes))


def test_weights_and_counts_are_validated() -> None:
    assert draw.validate_weights(None) == {"A": 1, "B": 2, "C": 4, "D": 8}
    assert draw.validate_weights({"D": 20}) == {"A": 1, "B": 2, "C": 4, "D": 20}
    for bad in ({"E": 1}, {"A": -1}, {"A": 1.5}, {"A": True}, [1, 2]):
        with pytest.raises(draw.InvalidEntry):
            draw.validate_weights(bad)
    assert draw.validate_count(None, "n", 10, default=2) == 2
    with pytest.raises(draw.InvalidEntry, match="n must be"):
        draw.validate_count(0, "n", 10)


def test_a_draw_cannot_take_a_caller_chosen_seed() -> None:
    assert "seed" not in inspect.signature(draw_service.announce).parameters
    inputs = {"candidates": [{"subject": "org:a", "grade": "A"}], "n": 1, "pool": [{"id": "p1"}],
              "weights": draw.DEFAULT_WEIGHTS, "previous": {"assignments": {}}, "inspectors_per_subject": 1,
              "seed": "00" * 32}  # fmt: skip
    spec = draw.spec_from_inputs(inputs)
    assert "seed" not in vars(spec)  # the announcement's seed field only names the rule, never a value
    with pytest.raises(ValueError, match="32 bytes"):
        run_draw(spec, b"\x00" * 16, 0)
