"""Risk grades (信用分级分类): a rule table a bureau can read and change, and the pure grading.

A subject is a business (``org:{id}``) or an equipment unit (``equipment:{code}``).  The
services count, for each subject, the facts of the last twelve months that each rule names
(``ledger.services.risk``); this module turns those counts into points, a score and a grade.

The table is data on purpose: each row says what it counts (in Chinese and English), how
many points one occurrence (one day, for the ``*_days`` rules) is worth and the most points the
row may give, so that one bad habit cannot outweigh everything else.  The grade is the last
threshold whose lower bound the score reaches: A (low risk) from 0, B from 5, C from 15, D from
30.  The table's SHA-256 (over its RFC 8785 JSON form, :meth:`RuleTable.as_dict`) is written
into every ``risk.graded`` entry, so a published grade always names the rules that made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

EQUIPMENT = "equipment"
BUSINESS = "business"
GRADES = ("A", "B", "C", "D")
# The roles whose holders are graded as businesses; bureaus and inspection agencies are not.
GRADED_ROLES = frozenset(
    {"producer", "processor", "cold_store", "carrier", "retailer", "canteen", "maintenance", "equipment_user"}
)


@dataclass(frozen=True)
class RiskRule:
    """One row of the table: ``points`` per occurrence of the fact ``name``, at most ``cap``."""

    name: str
    applies_to: str  # EQUIPMENT or BUSINESS
    description_zh: str
    description_en: str
    points: float
    cap: float

    def points_for(self, count: float) -> float:
        return min(self.cap, count * self.points) if count > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applies_to": self.applies_to,
            "description_zh": self.description_zh,
            "description_en": self.description_en,
            "points": self.points,
            "cap": self.cap,
        }


@dataclass(frozen=True)
class RuleTable:
    """The rules, the grade thresholds (grade, lowest score) and the window the facts cover."""

    version: str
    rules: tuple[RiskRule, ...]
    thresholds: tuple[tuple[str, float], ...]
    window_days: int = 365

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("risk rule names repeat")
        if any(rule.applies_to not in (EQUIPMENT, BUSINESS) or rule.points < 0 or rule.cap < 0 for rule in self.rules):
            raise ValueError("a risk rule applies to equipment or business, with points and cap not negative")
        bounds = [bound for _, bound in self.thresholds]
        if [grade for grade, _ in self.thresholds] != list(GRADES) or bounds[0] != 0 or bounds != sorted(set(bounds)):
            raise ValueError("thresholds must give A, B, C, D in order, from 0, strictly rising")

    def rules_for(self, kind: str) -> tuple[RiskRule, ...]:
        return tuple(rule for rule in self.rules if rule.applies_to == kind)

    def grade_of(self, score: float) -> str:
        grade = self.thresholds[0][0]
        for name, lowest in self.thresholds:
            if score >= lowest:
                grade = name
        return grade

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "window_days": self.window_days,
            "rules": [rule.as_dict() for rule in self.rules],
            "thresholds": [{"grade": grade, "min_score": bound} for grade, bound in self.thresholds],
        }

    def sha256(self) -> str:
        return hashlib.sha256(rfc8785.dumps(self.as_dict())).hexdigest()


RULES = (
    RiskRule("maintenance_overdue_days", EQUIPMENT, "半月维保超期天数（含按需维保的批准间隔）",
             "days the half-monthly (or approved on-demand) maintenance was overdue", 1, 30),
    RiskRule("inspection_failed", EQUIPMENT, "定期检验不合格次数", "failed periodic inspections", 10, 20),
    RiskRule("hazard_late", EQUIPMENT, "隐患逾期未整改或逾期销号", "hazards still open past, or closed after, "
             "their deadline", 5, 20),
    RiskRule("entrapment", EQUIPMENT, "困人故障次数", "entrapments", 2, 10),
    RiskRule("late_arrival", EQUIPMENT, "困人救援超时到场次数", "late arrivals at an entrapment", 5, 15),
    RiskRule("temperature_excursion", BUSINESS, "所持批次温度超标（按批次计）",
             "batches it held with a temperature reading outside the product's band", 5, 25),
    RiskRule("untraced_receipt", BUSINESS, "未赋码或无发货记录的收货次数", "receipts of uncoded goods or "
             "goods nobody shipped to it", 5, 25),
    RiskRule("shipment_unreceived", BUSINESS, "发货 48 小时后仍未签收的批次", "its shipments still not received "
             "48 hours after shipping", 3, 15),
    RiskRule("expired_held", BUSINESS, "过期仍在库的批次", "batches it still holds past their expiry date", 10, 30),
    RiskRule("maintained_overdue_days", BUSINESS, "所维保电梯的维保超期天数（维保单位）",
             "maintenance companies: overdue days of the units they maintain", 0.5, 30),
    RiskRule("maintained_late_arrivals", BUSINESS, "所维保电梯的困人救援超时到场次数（维保单位）",
             "maintenance companies: late arrivals at entrapments in the units they maintain", 5, 20),
)  # fmt: skip
THRESHOLDS = (("A", 0.0), ("B", 5.0), ("C", 15.0), ("D", 30.0))
DEFAULT_TABLE = RuleTable("2026-11", RULES, THRESHOLDS)


@dataclass(frozen=True)
class Grading:
    """A subject's grade, score and the rows that gave it points, in table order."""

    subject: str
    grade: str
    score: float
    reasons: tuple[dict[str, Any], ...]


def grade_subject(subject: str, kind: str, counts: Mapping[str, float], table: RuleTable = DEFAULT_TABLE) -> Grading:
    """Points per rule (capped), their sum as the score (to 2 decimals), and the grade."""
    reasons: list[dict[str, Any]] = []
    total = 0.0
    for rule in table.rules_for(kind):
        count = counts.get(rule.name, 0)
        if count > 0:
            points = round(rule.points_for(count), 2)
            total += points
            reasons.append({"rule": rule.name, "count": count, "points": points})
    score = round(total, 2)
    return Grading(subject, table.grade_of(score), float(score), tuple(reasons))


def grades_sha256(gradings: Iterable[Grading]) -> str:
    """SHA-256 over the RFC 8785 JSON array of ``[subject, grade, score]``, sorted by subject
    (code-point order): anyone holding the published grades can recompute it."""
    rows: list[Any] = [[g.subject, g.grade, float(g.score)] for g in sorted(gradings, key=lambda g: g.subject)]
    return hashlib.sha256(rfc8785.dumps(rows)).hexdigest()
