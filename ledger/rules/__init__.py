"""The rules the jobs run and the pages read: each finds what is overdue or untraced now.

``RULES`` maps a rule's name to its family (``equipment`` runs daily, ``coldchain`` hourly) and
its function ``(session, today, now, zone) -> list[Finding]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from ledger.domain.alerts import Finding
from ledger.rules import coldchain, equipment

RuleFunction = Callable[[Session, date, datetime, str], list[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    family: str
    find: RuleFunction
    title_zh: str
    title_en: str


TABLE = (
    ("maintenance_half_monthly", "equipment", equipment.half_monthly, "半月维保超期", "half-monthly maintenance late"),
    ("maintenance_quarterly", "equipment", equipment.quarterly, "季度维保超期", "quarterly maintenance overdue"),
    ("maintenance_half_yearly", "equipment", equipment.half_yearly, "半年维保超期", "half-yearly maintenance overdue"),
    ("maintenance_yearly", "equipment", equipment.yearly, "年度维保超期", "yearly maintenance overdue"),
    ("inspection_due", "equipment", equipment.inspection_due, "定期检验到期", "periodic inspection due"),
    ("maintenance_unconfirmed", "equipment", equipment.unconfirmed, "维保记录未确认", "maintenance unconfirmed"),
    ("hazard_overdue", "equipment", equipment.hazard_overdue, "隐患整改超期", "hazard past its deadline"),
    ("entrapment_late", "equipment", equipment.entrapment_late, "困人救援超时", "late arrival at an entrapment"),
    ("shipment_unreceived", "coldchain", coldchain.shipment_unreceived, "发货未签收", "shipped, not received"),
    ("never_scanned", "coldchain", coldchain.never_scanned, "赋码未扫码", "coded, never scanned"),
    ("custody_gap", "coldchain", coldchain.custody_gap, "未赋码或无来源收货", "uncoded or unexpected receipt"),
    ("silent", "coldchain", coldchain.silent, "在库无扫码", "held without scans"),
    ("excursion", "coldchain", coldchain.excursion, "温度超标", "temperature excursion"),
    ("reading_gap", "coldchain", coldchain.reading_gap, "温度记录中断", "gap in temperature readings"),
    ("expired_held", "coldchain", coldchain.expired_held, "过期仍在库", "expired goods still held"),
)
RULES = {name: Rule(name, family, find, zh, en) for name, family, find, zh, en in TABLE}
FAMILIES = ("equipment", "coldchain")


def rules_of(family: str) -> list[Rule]:
    return [rule for rule in RULES.values() if rule.family == family]
