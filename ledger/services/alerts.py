"""Running the rules: raising new alerts, updating open ones, resolving those the rules no
longer find — each raise, escalation and resolution a ledger entry, so what the regulator
flagged, and when, is itself tamper-evident.

Idempotent: an alert is keyed by (rule, subject, due date), so running a rule twice raises
nothing new; a key no longer found means a satisfying event arrived and the alert resolves,
naming that entry where the subject says which it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.tables import Alert, Hazard, LedgerEntry, MaintenanceRecord, Scan
from ledger.domain.alerts import COLOURS, Finding, worse
from ledger.rules import RULES
from ledger.services import webhooks

OPEN = ("open", "acknowledged", "escalated")
# The entries that can put a subject right, by rule: the latest of them after the alert is
# named as the one that resolved it.
SATISFYING = {
    "maintenance_half_monthly": ("maintenance.recorded",),
    "maintenance_quarterly": ("maintenance.recorded",),
    "maintenance_half_yearly": ("maintenance.recorded",),
    "maintenance_yearly": ("maintenance.recorded",),
    "inspection_due": ("inspection.recorded",),
    "never_scanned": ("scan.ship", "scan.receive", "scan.store", "scan.sell", "scan.dispose"),
    "silent": ("scan.ship", "scan.receive", "scan.store", "scan.sell", "scan.dispose"),
    "expired_held": ("scan.ship", "scan.sell", "scan.dispose"),
}


@dataclass
class Evaluation:
    raised: int = 0
    resolved: int = 0
    escalated: int = 0
    open: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return f"raised {self.raised}, escalated {self.escalated}, resolved {self.resolved}, open {self.open}"


def _merged(findings: Iterable[Finding]) -> dict[tuple[str, str, date], Finding]:
    """One finding per key: several records behind one alert add their evidence."""
    merged: dict[tuple[str, str, date], Finding] = {}
    for finding in findings:
        known = merged.get(finding.key)
        if known is None:
            merged[finding.key] = finding
            continue
        evidence = tuple(sorted(set(known.evidence) | set(finding.evidence)))
        merged[finding.key] = replace(known, evidence=evidence, colour=worse(known.colour, finding.colour))
    return merged


def _payload(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "subject": finding.subject,
        "due_date": finding.due_date.isoformat(),
        "colour": finding.colour,
        "days_overdue": finding.days_overdue,
        "label": finding.label,
        "grid_code": finding.grid_code,
        "org_id": finding.org_id,
        "evidence": list(finding.evidence),
    }


def _satisfied_by(session: Session, alert: Alert) -> int | None:
    """The entry that put the subject right, where the subject names it: the receipt of a
    shipment, the close of a hazard, or the latest entry about a unit or batch."""
    kind, _, rest = alert.subject.partition(":")
    if kind == "shipment":
        receipt = session.scalars(
            select(Scan.seq).where(
                Scan.matched_scan_id == select(Scan.id).where(Scan.seq == int(rest)).scalar_subquery()
            )
        ).first()
        return receipt
    if kind == "hazard":
        return session.scalars(select(Hazard.updated_seq).where(Hazard.opened_seq == int(rest))).first()
    if kind == "maintenance":
        return session.scalars(
            select(MaintenanceRecord.confirmed_seq).where(MaintenanceRecord.seq == int(rest))
        ).first()
    if kind in ("incident", "receipt"):
        return None
    query = select(func.max(LedgerEntry.seq)).where(
        LedgerEntry.subject == alert.subject.split("#", 1)[0], LedgerEntry.seq > alert.raised_seq
    )
    kinds = SATISFYING.get(alert.rule)
    return session.scalar(query.where(LedgerEntry.kind.in_(kinds)) if kinds else query)


def _notify(session: Session, alert: Alert, event: str) -> None:
    """The organisations concerned hear of it through their webhooks (delivered by a job)."""
    webhooks.enqueue_alert(session, alert, event)


def evaluate(
    session: Session, names: Sequence[str], today: date, now: datetime, zone: str, actor: dict[str, str]
) -> Evaluation:
    """Run the named rules as of ``now`` and bring the alerts in line with what they find."""
    report = Evaluation()
    for name in names:
        found = _merged(RULES[name].find(session, today, now, zone))
        current = {(a.rule, a.subject, a.due_date): a for a in
                   session.scalars(select(Alert).where(Alert.rule == name, Alert.status.in_(OPEN)))}  # fmt: skip
        known = set(session.execute(select(Alert.rule, Alert.subject, Alert.due_date).where(Alert.rule == name)).all())
        _raise(session, [f for key, f in found.items() if key not in known], actor, now, report)
        _update(session, current, found, actor, report)
        _resolve(session, [a for key, a in current.items() if key not in found], actor, now, report)
        report.by_rule[name] = len(found)
        report.open += len(found)
    session.flush()
    return report


def _raise(session: Session, findings: list[Finding], actor: dict[str, str], now: datetime, report: Evaluation) -> None:
    events = [store.NewEvent("alert.raised", f.subject, actor, _payload(f)) for f in findings]
    for finding, appended in zip(findings, store.append(session, events), strict=True):
        alert = Alert(
            rule=finding.rule, subject=finding.subject, due_date=finding.due_date, label=finding.label,
            grid_code=finding.grid_code, org_id=finding.org_id, category=finding.category,
            maintenance_org_id=finding.maintenance_org_id, user_org_id=finding.user_org_id, colour=finding.colour,
            days_overdue=finding.days_overdue, evidence=list(finding.evidence), status="open", opened_at=now,
            raised_seq=appended.seq, updated_seq=appended.seq,
        )  # fmt: skip
        session.add(alert)
        session.flush()
        _notify(session, alert, "alert.raised")
        report.raised += 1


def _update(session: Session, current: dict[Any, Alert], found: dict[Any, Finding], actor: dict[str, str],
            report: Evaluation) -> None:  # fmt: skip
    """Days overdue move every day; a colour that got worse is an ``alert.escalated`` entry."""
    for key, alert in current.items():
        finding = found.get(key)
        if finding is None:
            continue
        alert.days_overdue = finding.days_overdue
        if COLOURS.index(finding.colour) > COLOURS.index(alert.colour):
            payload = {"alert_seq": alert.raised_seq, "from": alert.colour, "to": finding.colour,
                       "days_overdue": finding.days_overdue}  # fmt: skip
            (appended,) = store.append(session, [store.NewEvent("alert.escalated", alert.subject, actor, payload)])
            alert.colour, alert.updated_seq = finding.colour, appended.seq
            if alert.status == "open":
                alert.status = "escalated"
            _notify(session, alert, "alert.escalated")
            report.escalated += 1


def _resolve(session: Session, alerts: list[Alert], actor: dict[str, str], now: datetime, report: Evaluation) -> None:
    for alert in alerts:
        resolve(session, alert, _satisfied_by(session, alert), actor, now)
        report.resolved += 1


def resolve(session: Session, alert: Alert, satisfied_by: int | None, actor: dict[str, str], now: datetime) -> Alert:
    payload = {"alert_seq": alert.raised_seq, "rule": alert.rule, "satisfied_by_seq": satisfied_by}
    (appended,) = store.append(session, [store.NewEvent("alert.resolved", alert.subject, actor, payload)])
    alert.status, alert.resolved_at, alert.resolved_seq = "resolved", now, appended.seq
    alert.satisfied_by_seq, alert.updated_seq = satisfied_by, appended.seq
    session.flush()
    _notify(session, alert, "alert.resolved")
    return alert
