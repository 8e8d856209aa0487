"""Pure cold-chain rules: excursions, custody, scan messages and FSMA 204 rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain import fsma
from ledger.domain.coldchain import Band, excursions
from ledger.domain.custody import Custody, CustodyViolation, Stock
from ledger.domain.scans import scan_spec
from ledger.errors import InvalidEntry

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FROZEN = Band(None, -18.0)


def at(minutes: int) -> datetime:
    return NOW - timedelta(hours=10) + timedelta(minutes=minutes)


def test_consecutive_warm_readings_are_one_excursion_with_its_peak() -> None:
    readings = [(at(0), -20.0), (at(10), -16.0), (at(20), -12.5), (at(30), -17.0), (at(40), -19.0)]
    (found,) = excursions(readings, FROZEN)
    assert (found.kind, found.start, found.end, found.extreme_c, found.readings) == (
        "too_warm",
        at(10),
        at(30),
        -12.5,
        3,
    )
    assert found.minutes == 20


def test_a_chilled_band_catches_both_sides_and_gaps() -> None:
    chilled = Band(0.0, 4.0, max_gap=timedelta(minutes=30))
    readings = [(at(0), 2.0), (at(10), -1.0), (at(20), 5.0), (at(90), 3.0)]
    assert [(e.kind, e.start) for e in excursions(readings, chilled)] == [
        ("too_cold", at(10)),
        ("gap", at(20)),
        ("too_warm", at(20)),
    ]


def test_ambient_goods_have_no_excursions_and_order_does_not_matter() -> None:
    assert excursions([(at(5), 45.0), (at(0), -30.0)], Band(None, None)) == []
    shuffled = [(at(20), -12.0), (at(0), -20.0), (at(10), -15.0)]
    assert [e.readings for e in excursions(shuffled, FROZEN)] == [2]


def scan(action: str, quantity: float = 10, **fields: object) -> object:
    body = {
        "client_event_id": f"{action}-{quantity}",
        "action": action,
        "gtin": "9506000134352",
        "lot": "A1",
        "quantity": quantity,
        "unit": "箱",
        "event_time": "2026-11-26T19:00:00+08:00",
        **fields,
    }
    return scan_spec(body, NOW)


def test_custody_moves_stock_and_matches_shipments() -> None:
    custody = Custody(stock={("09506000134352", "A1", "importer"): Stock(30, "箱")})
    shipped = custody.apply(scan("ship", 25, to_org_id="carrier"), "importer")
    assert shipped.new_shipment is not None and custody.stock[("09506000134352", "A1", "importer")].quantity == 5
    received = custody.apply(scan("receive", 25), "carrier")
    assert received.matched is shipped.new_shipment and not received.unexpected and received.counterparty == "importer"
    again = custody.apply(scan("receive", 1), "carrier")
    assert again.unexpected and again.matched is None
    with pytest.raises(CustodyViolation, match="you hold 5"):
        custody.apply(scan("sell", 6), "importer")
    with pytest.raises(CustodyViolation, match="another organisation"):
        custody.apply(scan("ship", 1, to_org_id="importer"), "importer")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"event_time": "2026-11-26T20:06:00+08:00"}, "future"),
        ({"event_time": "1999-12-31T23:00:00Z"}, "before 2000"),
        ({"event_time": "yesterday"}, "RFC 3339"),
        ({"quantity": float("nan")}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"code": "(01)09506000134352(10)A1", "gtin": "9506000134352"}, "either code"),
        ({"readings": [{"time": "2026-11-26T19:00:00+08:00"}]}, r"readings\[0\]"),
        ({"to_org_id": "carrier"}, "belong to a shipment"),
    ],
)
def test_scan_messages_are_checked_before_anything_is_locked(fields: dict, message: str) -> None:
    with pytest.raises(InvalidEntry, match=message):
        scan("store", **fields)


def test_event_times_keep_their_offset_in_the_entry() -> None:
    spec = scan("store", event_time="2026-11-26T19:04:59.5+08:00")
    assert spec.payload()["event_time"] == "2026-11-26T19:04:59.500000+08:00"
    assert scan("store", event_time="2026-11-26T11:00:00Z").payload()["event_time"] == "2026-11-26T11:00:00+00:00"


def test_fsma_rows_sort_by_time_and_keep_the_columns() -> None:
    later = fsma.TrackingEvent("receive", "(01)1(10)A", "羊肉", 5, "箱", NOW, "冷库", previous_source="承运商", seq=9)
    earlier = fsma.TrackingEvent("ship", "(01)1(10)A", "羊肉", 5, "箱", NOW - timedelta(hours=3), "工厂", seq=4)
    table = fsma.rows([later, earlier])
    assert [r["Critical Tracking Event"] for r in table] == ["Shipping", "Receiving"]
    assert list(table[0]) == fsma.COLUMNS and table[1]["Reference Document Number"] == "9"
    assert fsma.local_time(NOW, "+08:00").isoformat() == "2026-11-26T20:00:00+08:00"
    assert fsma.local_time(NOW, "-05:30").hour == 6
