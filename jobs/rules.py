"""The rule jobs: cold-chain rules hourly, equipment rules daily; each run brings the alerts in
line with what the rules find now (idempotent: running twice raises nothing new)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from jobs.runs import Job
from ledger.db.engine import transaction
from ledger.domain.clock import local_date
from ledger.rules import rules_of
from ledger.services import alerts, hazards, risk

RULES_ACTOR = {"org": "system", "job": "rules"}


def make_job(family: str, zone: str) -> Job:
    names = [rule.name for rule in rules_of(family)]

    def run_rules(engine: Engine) -> str:
        now = datetime.now(UTC)
        today = local_date(now, zone)
        with transaction(engine) as session:
            escalated = len(hazards.escalate_overdue(session, today, RULES_ACTOR)) if family == "equipment" else 0
            report = alerts.evaluate(session, names, today, now, zone, RULES_ACTOR)
        extra = f", hazards escalated {escalated}" if escalated else ""
        return report.summary() + extra

    return run_rules


def make_grading_job(zone: str) -> Job:
    """Nightly: every business and unit graded A–D from its own record (one ``risk.graded``
    entry when anything changed)."""

    def grade(engine: Engine) -> str:
        with transaction(engine) as session:
            summary = risk.grade_all(session, local_date(datetime.now(UTC), zone), RULES_ACTOR, zone)
        grades = ", ".join(f"{grade} {count}" for grade, count in sorted(summary.by_grade.items()))
        state = f"entry {summary.seq}" if summary.changed else "unchanged"
        return f"graded {summary.subjects} subjects ({grades}); {state}"

    return grade
