"""Realistic events for tests: cold-chain scans and elevator maintenance, as businesses send them."""

from __future__ import annotations

import random

from ledger.db.store import NewEvent

GTINS = ["06901234567892", "06920000000019", "09506000134352"]
NODES = ["宁波港冷库3号库", "杭州萧山冷链中心", "西湖区农贸市场", "Shanghai Yangshan cold store"]


def scan(n: int, org: str = "org_carrier01", with_id: bool = True, rng: random.Random | None = None) -> NewEvent:
    rng = rng or random.Random(n)
    gtin = GTINS[n % len(GTINS)]
    lot = f"L2026{n % 97:03d}"
    return NewEvent(
        kind="scan.receive" if n % 2 else "scan.ship",
        subject=f"https://anlian.example/01/{gtin}/10/{lot}",
        actor={"org": org},
        payload={
            "gtin": gtin,
            "lot": lot,
            "location": NODES[n % len(NODES)],
            "temperature_c": round(rng.uniform(-22.0, -17.5), 1),
            "quantity": rng.randint(1, 400),
            "unit": "箱",
        },
        client_event_id=f"{org}-scan-{n}" if with_id else None,
    )


def maintenance(n: int, org: str = "org_maint01") -> NewEvent:
    return NewEvent(
        kind="maintenance.recorded",
        subject=f"equipment:31103301002017{n:06d}",
        actor={"org": org},
        payload={"tier": "half_monthly", "technicians": ["T330100123", "T330100456"], "items_ok": 31},
        client_event_id=f"{org}-mnt-{n}",
    )
