"""Entry bytes: RFC 8785 canonical JSON, the fields of an entry, and their validation."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.canonical import (
    GENESIS_PREV,
    Entry,
    decode_entry,
    encode_entry,
    format_recorded_at,
)
from ledger.domain.hashing import leaf_hash
from ledger.errors import InvalidEntry

SCAN = Entry(
    seq=7,
    kind="scan.receive",
    subject="https://anlian.example/01/06901234567892/10/L2026A",
    actor={"org": "org_carrier01"},
    recorded_at="2026-11-26T08:30:00.000001Z",
    payload={"temperature_c": -18.5, "location": "宁波港冷库", "quantity": 40, "unit": "箱", "ok": True},
    prev="ab" * 32,
)

# The bytes and leaf hash of SCAN pin the ledger format: outside verifiers rely on them, so a
# change here is a breaking change of the format, never a test to update casually.
SCAN_BYTES = (
    '{"actor":{"org":"org_carrier01"},"kind":"scan.receive","payload":{"location":"宁波港冷库",'
    '"ok":true,"quantity":40,"temperature_c":-18.5,"unit":"箱"},"prev":"' + "ab" * 32 + '",'
    '"recorded_at":"2026-11-26T08:30:00.000001Z","seq":7,'
    '"subject":"https://anlian.example/01/06901234567892/10/L2026A"}'
).encode()


def test_entry_bytes_are_sorted_compact_utf8() -> None:
    assert encode_entry(SCAN) == SCAN_BYTES


def test_leaf_hash_prefixes_zero_byte() -> None:
    assert leaf_hash(SCAN_BYTES) == hashlib.sha256(b"\x00" + SCAN_BYTES).digest()


def test_rfc8785_example_from_the_rfc() -> None:
    # RFC 8785 §3.2.3: number serialisation (ECMAScript), string escaping and key order.
    payload = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    entry = Entry(0, "test.vector", "s", {"org": "o"}, "2026-01-01T00:00:00.000000Z", payload, GENESIS_PREV)
    encoded = encode_entry(entry).decode()
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert f'"payload":{expected}' in encoded


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+FB01 sorts after U+1F600 in UTF-16 (0xFB01 > 0xD83D), before it by code point.
    entry = Entry(
        0, "test.order", "s", {"org": "o"}, "2026-01-01T00:00:00.000000Z", {"\U0001f600": 1, "\ufb01": 2}, GENESIS_PREV
    )
    encoded = encode_entry(entry).decode()
    assert encoded.index("\U0001f600") < encoded.index("\ufb01")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "Scan Receive"}, "kind"),
        ({"kind": "scan"}, "kind"),
        ({"subject": ""}, "subject"),
        ({"actor": {"name": "x"}}, "actor"),
        ({"prev": "AB" * 32}, "prev"),
        ({"seq": -1}, "seq"),
        ({"recorded_at": "2026-11-26T08:30:00Z"}, "recorded_at"),
        ({"payload": {"t": float("nan")}}, "canonicalisable"),
        ({"payload": {"n": 2**60}}, "canonicalisable"),
    ],
)
def test_invalid_entries_are_refused_with_the_field_named(change: dict, message: str) -> None:
    fields = {**{f: getattr(SCAN, f) for f in SCAN.__slots__}, **change}
    with pytest.raises(InvalidEntry, match=message):
        encode_entry(Entry(**fields))


def test_recorded_at_is_utc_with_microseconds() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert format_recorded_at(datetime(2026, 11, 26, 16, 0, tzinfo=shanghai)) == "2026-11-26T08:00:00.000000Z"
    with pytest.raises(InvalidEntry):
        format_recorded_at(datetime(2026, 11, 26, 16, 0))  # naive: which zone?


def test_decode_rejects_extra_or_missing_fields() -> None:
    obj = json.loads(SCAN_BYTES)
    obj["extra"] = 1
    with pytest.raises(InvalidEntry, match="exactly the fields"):
        decode_entry(json.dumps(obj).encode())
    with pytest.raises(InvalidEntry, match="UTF-8 JSON"):
        decode_entry(b"\xff{")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    # beyond 2**53 an integral float is written as an integer that cannot be read back as one
    | st.floats(min_value=-(2.0**53), max_value=2.0**53, exclude_min=True, exclude_max=True)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(payload=st.dictionaries(st.text(max_size=10), json_values, max_size=6), seq=st.integers(0, 2**40))
def test_encoding_round_trips_and_is_deterministic(payload: dict, seq: int) -> None:
    entry = Entry(seq, "prop.test", "subject", {"org": "o"}, format_recorded_at(datetime.now(UTC)), payload, "0" * 64)
    encoded = encode_entry(entry)
    decoded = decode_entry(encoded)
    assert decoded.seq == seq and decoded.payload == payload
    # the same content in another key order gives the same bytes
    shuffled = dict(reversed(list(payload.items())))
    assert encode_entry(Entry(**{**{f: getattr(entry, f) for f in entry.__slots__}, "payload": shuffled})) == encoded
    # and re-encoding what was decoded changes nothing
    assert encode_entry(decoded) == encoded
    # splicing pre-encoded fields gives exactly the library's canonical form of the whole entry
    assert encoded == rfc8785.dumps(entry.as_object())


@given(subject=st.text(min_size=1, max_size=40), kind_tail=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
def test_quoted_strings_match_the_library(subject: str, kind_tail: str) -> None:
    entry = Entry(1, f"test.{kind_tail}", subject, {"org": "o"}, "2026-01-01T00:00:00.000000Z", {}, "0" * 64)
    try:
        expected = rfc8785.dumps(entry.as_object())
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidEntry):
            encode_entry(entry)
        return
    assert encode_entry(entry) == expected
