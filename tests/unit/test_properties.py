"""Properties over generated input, beside the example-based tests of each module:

* canonical encoding: the bytes do not depend on key order at any depth, are a fixed point of
  decoding and encoding again with another JSON reader, and whatever RFC 8785 cannot encode is
  refused as an invalid entry wherever it sits;
* GS1: any GTIN (8, 12, 13 or 14 digits), lot, expiry and serial read back the same from a
  Digital Link, an element string (FNC1 or bracketed) and a bare GTIN, and any one digit
  changed, check digit or not, is refused in each of those forms, and in a GLN;
* proofs: for any tree size and index, inclusion and consistency proofs verify, and flipping any
  single bit of the leaf, a proof hash or a root makes them fail.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.canonical import Entry, decode_entry, encode_entry, format_recorded_at
from ledger.domain.epcis import gln_of
from ledger.domain.gs1 import ScannedCode, digital_link, gtin_check_digit, normalize_gtin, parse_scan
from ledger.domain.hashing import leaf_hash
from ledger.domain.merkle import (
    Frontier,
    assemble,
    consistency_ranges,
    inclusion_ranges,
    verify_consistency,
    verify_inclusion,
)
from ledger.domain.scans import validate_gln
from ledger.errors import InvalidEntry, ProofError

TODAY = date(2026, 11, 26)
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
RECORDED_AT = format_recorded_at(datetime(2026, 11, 26, 8, tzinfo=UTC))

# -- Canonical encoding ------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    # An integral float beyond 2**53 is written as an integer, which reads back as an int.
    | st.floats(min_value=-(2.0**53), max_value=2.0**53, exclude_min=True, exclude_max=True)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


def entry(payload: Any) -> Entry:
    return Entry(7, "prop.test", "subject", {"org": "o"}, RECORDED_AT, payload, "0" * 64)


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with the members of every object, at every depth, in another order."""
    if isinstance(value, dict):
        items = [(key, shuffled(child, rng)) for key, child in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [shuffled(child, rng) for child in value]
    return value


@given(payload=payloads, rng=st.randoms(use_true_random=False))
def test_canonical_bytes_do_not_depend_on_key_order_at_any_depth(payload: dict, rng: random.Random) -> None:
    assert encode_entry(entry(shuffled(payload, rng))) == encode_entry(entry(payload))


@given(payload=payloads)
def test_canonical_bytes_are_a_fixed_point_for_another_json_reader(payload: dict) -> None:
    encoded = encode_entry(entry(payload))
    # The standard library's reader, not the one decode_entry uses: any reader gets the same entry back.
    read = json.loads(encoded.decode("utf-8"))
    assert encode_entry(Entry(**read)) == encoded
    assert decode_entry(encoded) == Entry(**read)


def _surrogate() -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: a + chr(b) + a, st.text(max_size=3), st.integers(0xD800, 0xDFFF))


unencodable = st.one_of(
    st.integers(min_value=2**53) | st.integers(max_value=-(2**53)),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    _surrogate(),
    st.dictionaries(st.integers(), st.none(), min_size=1, max_size=2),  # keys that are not strings
    st.binary(max_size=4),
    st.frozensets(st.integers(), max_size=2),
)


def _insert(value: Any, bad: Any, path: list[int]) -> Any:
    """``value`` with ``bad`` put somewhere inside it, the place chosen by ``path``."""
    if isinstance(value, dict) and value and path:
        key = sorted(value)[path[0] % len(value)]
        return {**value, key: _insert(value[key], bad, path[1:])}
    if isinstance(value, list) and value and path:
        index = path[0] % len(value)
        return [*value[:index], _insert(value[index], bad, path[1:]), *value[index + 1 :]]
    return {"x": value, "bad": bad} if isinstance(value, dict) else [value, bad]


@given(payload=payloads, bad=unencodable, path=st.lists(st.integers(0, 10), max_size=6))
def test_what_rfc8785_cannot_encode_is_refused_wherever_it_is(payload: dict, bad: Any, path: list[int]) -> None:
    broken = _insert(payload, bad, path)
    with pytest.raises(InvalidEntry, match="not canonicalisable"):
        encode_entry(entry(broken))


# -- GS1 ---------------------------------------------------------------------------------------


@st.composite
def gtins(draw: st.DrawFn) -> str:
    """A valid GTIN-8, -12, -13 or -14 as printed, check digit included."""
    length = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return body + str(gtin_check_digit(body))


lots = st.text(alphabet=CSET82, min_size=1, max_size=20)
# A bracketed value holding "(" cannot be told from the next AI, by design (see test_gs1).
plain_lots = st.text(alphabet=CSET82.replace("(", "").replace(")", ""), min_size=1, max_size=20)
# GS1 dates are read in a window of 49 years ahead of the day of the scan and 50 behind.
expiries = st.dates(min_value=date(1977, 1, 1), max_value=date(2075, 12, 31))


@given(gtin=gtins(), lot=lots, expiry=expiries, serial=st.none() | lots)
def test_every_form_of_a_code_reads_back_the_same(gtin: str, lot: str, expiry: date, serial: str | None) -> None:
    gtin14 = normalize_gtin(gtin)
    assert gtin14 == gtin.zfill(14)
    expected = ScannedCode(gtin14, lot, expiry, serial)
    assert parse_scan(digital_link("https://anlian.example", gtin14, lot, expiry, serial), TODAY) == expected
    with_serial = "" if serial is None else f"21{serial}\x1d"
    assert parse_scan(f"]d201{gtin14}17{expiry:%y%m%d}{with_serial}10{lot}", TODAY) == expected
    assert parse_scan(gtin, TODAY) == ScannedCode(gtin14, None, None, None)


@st.composite
def one_digit_changed(draw: st.DrawFn, digits: st.SearchStrategy[str]) -> tuple[str, str]:
    """A valid code, and the same with one digit (any one, the check digit too) changed."""
    good = draw(digits)
    position = draw(st.integers(0, len(good) - 1))
    other = draw(st.sampled_from([d for d in "0123456789" if d != good[position]]))
    return good, good[:position] + other + good[position + 1 :]


@given(codes=one_digit_changed(gtins()), lot=plain_lots)
def test_any_one_digit_changed_in_a_gtin_is_refused_in_every_form(codes: tuple[str, str], lot: str) -> None:
    # The mod-10 check with weights 3 and 1 catches every single-digit error: 3 is prime to 10.
    good, bad = codes
    bad14 = bad.zfill(14)
    link = f"https://id.gs1.org/01/{bad14}/10/{quote(lot, safe='')}"
    for scanned in (bad, link, f"]d201{bad14}10{lot}", f"(01){bad14}(10){lot}"):
        with pytest.raises(InvalidEntry, match="check digit"):
            parse_scan(scanned, TODAY)
    with pytest.raises(InvalidEntry, match="check digit"):
        normalize_gtin(bad)


glns = st.text(alphabet="0123456789", min_size=12, max_size=12).map(lambda body: body + str(gtin_check_digit(body)))


@given(codes=one_digit_changed(glns))
def test_any_one_digit_changed_in_a_gln_is_refused(codes: tuple[str, str]) -> None:
    good, bad = codes
    assert validate_gln(good) == good and gln_of(f"https://id.gs1.org/414/{good}", "bizLocation") == good
    with pytest.raises(InvalidEntry, match="check digit"):
        validate_gln(bad)
    with pytest.raises(InvalidEntry, match="check digit"):
        gln_of(f"https://id.gs1.org/414/{bad}", "bizLocation")


# -- Proofs ------------------------------------------------------------------------------------


def tree(size: int) -> tuple[list[bytes], dict[tuple[int, int], bytes], list[bytes]]:
    """The leaves, every complete block's hash, and the root after each leaf (index: size - 1)."""
    leaves = [leaf_hash(b"entry %d" % n) for n in range(size)]
    frontier, lookup, roots = Frontier(), {}, []
    for seq, leaf in enumerate(leaves):
        lookup[(0, seq)] = leaf
        for level, block in enumerate(frontier.append(leaf), start=1):
            lookup[(level, ((seq + 1) >> level) - 1)] = block
        roots.append(frontier.root())
    return leaves, lookup, roots


def flipped(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8 % len(data)] ^= 1 << bit % 8
    return bytes(data)


@settings(max_examples=200)
@given(size=st.integers(1, 600), data=st.data())
def test_an_inclusion_proof_verifies_and_no_flipped_bit_does(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    leaves, lookup, roots = tree(size)
    proof, root = assemble(inclusion_ranges(index, size), lookup), roots[-1]
    verify_inclusion(index, size, leaves[index], proof, root)
    # Which of leaf, proof hashes and root to spoil, and which of its 256 bits.
    target = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    leaf = flipped(leaves[index], bit) if target == 0 else leaves[index]
    spoiled = [flipped(h, bit) if position + 1 == target else h for position, h in enumerate(proof)]
    bad_root = flipped(root, bit) if target == len(proof) + 1 else root
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, spoiled, bad_root)


@settings(max_examples=200)
@given(second=st.integers(1, 600), data=st.data())
def test_a_consistency_proof_verifies_and_no_flipped_bit_does(second: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, second))
    _, lookup, roots = tree(second)
    proof = assemble(consistency_ranges(first, second), lookup)
    first_root, second_root = roots[first - 1], roots[-1]
    verify_consistency(first, second, first_root, second_root, proof)
    target = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    old = flipped(first_root, bit) if target == 0 else first_root
    spoiled = [flipped(h, bit) if position + 1 == target else h for position, h in enumerate(proof)]
    new = flipped(second_root, bit) if target == len(proof) + 1 else second_root
    with pytest.raises(ProofError):
        verify_consistency(first, second, old, new, spoiled)
