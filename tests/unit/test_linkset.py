"""A batch's GS1 linkset as a GS1-Conformant Resolver serves it (RFC 9264), and the HTTP ``Link``
header (RFC 8288) it becomes, read back by a strict parser written from the RFC's grammar."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.food import CANONICAL_HOST
from ledger.domain.gs1 import digital_link
from ledger.domain.linkset import (
    DEFAULT_LINK,
    EPCIS,
    JSON_LD_CONTEXT_REL,
    LINKSET_CONTEXT,
    PIP,
    TRACEABILITY,
    batch_linkset,
    link_header,
    linkset_context_link,
)
from ledger.errors import InvalidEntry

GTIN = "09506000134352"
LOT = "NZ-2026/11-A"
PUBLIC = "https://trace.anlian.example"
NAME_ZH, NAME_EN = "新西兰冷冻羊肉卷", "Frozen lamb rolls"
RELATIONS = {DEFAULT_LINK, PIP, TRACEABILITY, EPCIS}
# The checks of GS1's resolver test suite: a language tag, and a media type.
LANGUAGE = re.compile(r"^[a-z]{2}($|-[A-Z]{2})")
MEDIA_TYPE = re.compile(r"^[a-z]{4,}/[a-z0-9.+-]+$")
# RFC 8288 section 3 and RFC 9110 section 5.6: link-value, link-param, token, quoted-string.
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
QUOTED = r'"(?:[^"\\\x00-\x1f\x7f-\uffff]|\\[\x20-\x7e])*"'
PARAM = rf"[ \t]*;[ \t]*(?P<name>{TOKEN})(?:[ \t]*=[ \t]*(?P<value>{TOKEN}|{QUOTED}))?"
ANY_PARAM = rf"[ \t]*;[ \t]*{TOKEN}(?:[ \t]*=[ \t]*(?:{TOKEN}|{QUOTED}))?"
LINK_VALUE = re.compile(rf"<(?P<href>[\x21-\x3b\x3d\x3f-\x7e]*)>(?P<params>(?:{ANY_PARAM})*)")
SEPARATOR = re.compile(r"[ \t]*,[ \t]*")
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def canonical(lot: str = LOT) -> str:
    return digital_link(CANONICAL_HOST, GTIN, lot)


def make(lot: str = LOT, name_en: str | None = NAME_EN, name_zh: str = NAME_ZH) -> dict[str, Any]:
    return batch_linkset(canonical(lot), PUBLIC + "/", GTIN, lot, name_zh, name_en)


def context_object(linkset: dict[str, Any]) -> dict[str, Any]:
    (context,) = linkset["linkset"]
    assert isinstance(context, dict)
    return context


def targets(linkset: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    context = context_object(linkset)
    return [(rel, target) for rel in RELATIONS for target in context[rel]]


def unquote_param(value: str | None) -> str | None:
    if value is None or not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", r"\1", value[1:-1])


def parse_link_header(header: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """(target, [(parameter, value)]) per link-value; fails on anything the grammar does not allow."""
    links = []
    position = 0
    while True:
        match = LINK_VALUE.match(header, position)
        assert match, f"no link-value at {position}: {header[position : position + 60]!r}"
        params = [(p["name"].lower(), unquote_param(p["value"])) for p in re.finditer(PARAM, match["params"])]
        links.append((match["href"], params))
        position = match.end()
        if position == len(header):
            return links
        separator = SEPARATOR.match(header, position)
        assert separator, f"no ',' at {position}: {header[position : position + 60]!r}"
        position = separator.end()


def ext_value(value: str) -> tuple[str, str]:
    """RFC 8187: ``charset'language'percent-encoded`` as (text, language)."""
    charset, language, encoded = value.split("'", 2)
    assert charset.upper() == "UTF-8" and re.fullmatch(r"[!#$&+\-.^_`|~0-9A-Za-z%]*", encoded)
    return unquote(encoded, encoding="utf-8", errors="strict"), language


def test_one_context_object_anchored_at_the_batch_digital_link_on_gs1_s_canonical_host() -> None:
    linkset = make()
    assert list(linkset) == ["linkset"]
    context = context_object(linkset)
    assert context["anchor"] == "https://id.gs1.org/01/09506000134352/10/NZ-2026%2F11-A"
    assert NAME_ZH in context["description"] and NAME_EN in context["description"]
    assert {key for key, value in context.items() if isinstance(value, list)} == RELATIONS
    assert json.loads(json.dumps(linkset)) == linkset and make() == linkset


def test_exactly_one_default_link_the_public_product_page_in_both_languages() -> None:
    context = context_object(make())
    (default,) = context[DEFAULT_LINK]
    (page,) = context[PIP]
    assert default == page and default is not page  # equal, but not one shared, mutable object
    assert page["href"] == f"{PUBLIC}/01/{GTIN}/10/NZ-2026%2F11-A"
    assert page["type"] == "text/html" and page["hreflang"] == ["zh-CN", "en"]


def test_every_link_has_an_href_a_type_and_a_title_in_chinese_then_english() -> None:
    for rel, target in targets(make()):
        assert set(target) <= {"href", "type", "title", "title*", "hreflang"}, rel
        parts = urlsplit(target["href"])
        assert (parts.scheme, parts.netloc) == ("https", "trace.anlian.example"), rel
        assert MEDIA_TYPE.match(target["type"]), rel
        zh, en = target["title*"]
        assert zh["language"] == "zh-CN" and en["language"] == "en"
        assert target["title"] == zh["value"] and re.search(r"[\u4e00-\u9fff]", zh["value"])
        assert en["value"].isascii() and en["value"]
        assert all(LANGUAGE.match(tag) for tag in target.get("hreflang", []))


@pytest.mark.parametrize("lot", [LOT, "L/1<2>&\"3'%2F", "A+B?C=D;E,F:G", "%25"])
def test_links_name_the_lot_exactly_however_many_characters_need_encoding(lot: str) -> None:
    context = context_object(make(lot))
    assert context["anchor"] == canonical(lot)
    (page,) = context[PIP]
    assert page["href"] == f"{PUBLIC}/01/{GTIN}/10/{quote(lot, safe='')}"
    assert unquote(urlsplit(page["href"]).path.rsplit("/", 1)[1]) == lot
    (batch,) = context[TRACEABILITY]
    assert batch["type"] == "application/json"
    assert urlsplit(batch["href"]).path.startswith(f"/api/v1/public/batches/{GTIN}/")
    assert unquote(urlsplit(batch["href"]).path.rsplit("/", 1)[1]) == lot
    (events,) = context[EPCIS]
    parts = urlsplit(events["href"])
    assert parts.path == "/api/v1/epcis/events"
    assert parse_qs(parts.query, strict_parsing=True) == {"EQ_epcClass": [canonical(lot)]}


def test_a_product_without_an_english_name_still_has_english_titles() -> None:
    linkset = make(name_en=None)
    assert context_object(linkset)["description"].startswith(NAME_ZH)
    for _, target in targets(linkset):
        assert target["title*"][1]["value"].startswith(("Lot ", "Traceability", "EPCIS"))


def test_the_anchor_must_name_this_batch_on_some_resolver() -> None:
    other_resolver = "https://id.gs1.de/01/09506000134352/10/NZ-2026%2F11-A"
    assert (
        context_object(batch_linkset(other_resolver, PUBLIC, GTIN, LOT, NAME_ZH, NAME_EN))["anchor"] == other_resolver
    )
    for anchor in (canonical("NZ-2026/11-B"), "https://id.gs1.org/01/09506000134352/10/NZ-2026/11-A", "urn:x"):
        with pytest.raises(ValueError, match="anchor"):
            batch_linkset(anchor, PUBLIC, GTIN, LOT, NAME_ZH, NAME_EN)


@pytest.mark.parametrize("gtin, lot", [("09506000134353", LOT), ("9506000134352", LOT), (GTIN, "批次1"), (GTIN, "")])
def test_a_bad_gtin_or_lot_is_an_invalid_entry(gtin: str, lot: str) -> None:
    with pytest.raises(InvalidEntry):
        batch_linkset(CANONICAL_HOST, PUBLIC, gtin, lot, NAME_ZH, NAME_EN)


def test_the_link_header_carries_every_link_with_its_type_languages_and_both_titles() -> None:
    linkset = make()
    header = link_header(linkset)
    assert header.isascii() and "\r" not in header and "\n" not in header
    *parsed, _ = parse_link_header(header)  # the last one is the linkset itself
    assert len(parsed) == len(targets(linkset)) == 4
    by_rel = {}
    for href, params in parsed:
        names = [name for name, _ in params]
        assert names.count("rel") == names.count("title") == names.count("title*") == names.count("type") == 1
        values = dict(params)
        by_rel[values["rel"]] = (href, values, [value for name, value in params if name == "hreflang"])
    assert set(by_rel) == RELATIONS
    for rel, target in targets(linkset):
        href, values, languages = by_rel[rel]
        assert href == target["href"] and values["type"] == target["type"]
        assert languages == target.get("hreflang", [])
        assert values["title"] == target["title*"][1]["value"]  # English, in ASCII
        assert ext_value(str(values["title*"])) == (target["title"], "zh-CN")


def test_each_link_value_ends_in_a_quoted_title_as_gs1_s_test_suite_reads_them() -> None:
    header = link_header(make())
    assert len(header.split('",')) == 5 and header.endswith('"')
    assert all(part.lstrip().startswith("<") for part in header.split('",'))


@pytest.mark.parametrize("lot", [LOT, "A?B&C=D"])
def test_the_link_header_points_at_the_linkset_itself_on_our_resolver(lot: str) -> None:
    *_, (href, params) = parse_link_header(link_header(make(lot)))
    values = dict(params)
    assert href == f"{PUBLIC}/01/{GTIN}/10/{quote(lot, safe='')}?linkType=linkset"
    assert values["rel"] == "linkset" and values["type"] == "application/linkset+json"
    assert values["title"] == "All links" and ext_value(str(values["title*"])) == ("全部链接", "zh-CN")
    elsewhere = "https://resolver.example/linksets/1"
    assert parse_link_header(link_header(make(lot), elsewhere))[-1][0] == elsewhere


def test_a_linkset_without_exactly_one_default_link_has_no_link_header() -> None:
    linkset = make()
    linkset["linkset"][0][DEFAULT_LINK].append(linkset["linkset"][0][PIP][0])
    with pytest.raises(ValueError, match="exactly one"):
        link_header(linkset)


def test_the_json_ld_context_link_parses() -> None:
    (context,) = parse_link_header(linkset_context_link())
    assert context[0] == LINKSET_CONTEXT and dict(context[1])["rel"] == JSON_LD_CONTEXT_REL


def test_non_ascii_quotes_and_backslashes_in_names_keep_the_header_valid() -> None:
    name_en = 'Crème "brûlée" \\ 法式'
    header = link_header(make(name_en=name_en))
    assert header.isascii()
    titles = [dict(params)["title"] for _, params in parse_link_header(header)]
    assert titles[0] == 'Creme "brulee" \\ , lot NZ-2026/11-A: product and batch information'


@given(
    lot=st.text(st.sampled_from(CSET82), min_size=1, max_size=20),
    name_zh=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    name_en=st.none() | st.text(st.characters(codec="utf-8"), max_size=40),
)
def test_any_lot_and_names_give_a_header_that_parses_back_to_the_same_links(
    lot: str, name_zh: str, name_en: str | None
) -> None:
    linkset = make(lot, name_en or None, name_zh)
    header = link_header(linkset)
    assert header.isascii() and "\r" not in header and "\n" not in header
    *parsed, _ = parse_link_header(header)
    assert [(href, dict(params)["rel"]) for href, params in parsed] == [
        (target["href"], rel)
        for rel, items in context_object(linkset).items()
        if isinstance(items, list)
        for target in items
    ]
    for _, params in parsed:
        assert dict(params)["title"]
