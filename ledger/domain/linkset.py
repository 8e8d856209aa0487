"""The GS1 linkset of a coded batch: what our resolver answers for ``/01/{gtin}/10/{lot}``.

A GS1-Conformant Resolver (standard 1.1) serves, for ``Accept: application/linkset+json``, an
RFC 9264 JSON linkset: one link context object whose ``anchor`` is the item's Digital Link and
whose other members are link relation types (GS1 Web Vocabulary URIs), each an array of target
objects.  Every target has an ``href``, a ``type`` and a human-readable ``title``; exactly one
target is the ``defaultLink``, where a resolver sends a client that asked for nothing special.

Titles come in Chinese and English.  The plain ``title`` is the Chinese one, for the people who
scan our labels; ``title*`` (RFC 9264 section 4.2.4.2) carries both, each with its language.
One product page serves both languages, so it is one target with ``hreflang`` ``["zh-CN", "en"]``
rather than one target per language.

The same links go into the HTTP ``Link`` header (RFC 8288) of the resolver's redirects, which
must stay ASCII: there the English title is ``title`` and the Chinese one ``title*`` (RFC 8187).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ledger.domain.food import CANONICAL_HOST
from ledger.domain.gs1 import digital_link

GS1_VOC = "https://gs1.org/voc/"
DEFAULT_LINK = GS1_VOC + "defaultLink"
PIP = GS1_VOC + "pip"
TRACEABILITY = GS1_VOC + "traceability"
EPCIS = GS1_VOC + "epcis"
LINKSET_TYPE = "application/linkset+json"
# Published with the resolver standard; a Link header naming it turns the linkset's JSON into JSON-LD.
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
JSON_LD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ZH, EN = "zh-CN", "en"
# RFC 8187 attr-char beyond the letters, digits and "-._~" that quote() always leaves alone.
_ATTR_CHAR_SAFE = "!#$&+^`|"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def batch_linkset(
    anchor: str, public_url: str, gtin: str, lot: str, product_name_zh: str, product_name_en: str | None
) -> dict[str, Any]:
    """The linkset of batch ``lot`` of GTIN-14 ``gtin``, its links on our public host.

    ``anchor`` is the batch's Digital Link on the host that answers for it, normally GS1's
    canonical ``https://id.gs1.org/01/{gtin}/10/{lot}``; it must name this batch (ValueError).
    A malformed GTIN or lot raises InvalidEntry, as everywhere else.
    """
    base = public_url.rstrip("/")
    page = digital_link(base, gtin, lot)  # validates the GTIN and the lot
    if not _names_item(anchor, gtin, lot):
        raise ValueError(f"anchor {anchor!r} is not the Digital Link of batch {lot!r} of GTIN {gtin}")
    return {
        "linkset": [
            {
                "anchor": anchor,
                "description": _description(lot, product_name_zh, product_name_en),
                DEFAULT_LINK: [_product_page(page, lot, product_name_zh, product_name_en)],
                PIP: [_product_page(page, lot, product_name_zh, product_name_en)],
                TRACEABILITY: [_public_batch(base, gtin, lot)],
                EPCIS: [_epcis_events(base, digital_link(CANONICAL_HOST, gtin, lot), lot)],
            }
        ]
    }


def _names_item(anchor: str, gtin: str, lot: str) -> bool:
    """An http(s) URI whose path ends in this batch's Digital Link path, on whatever host."""
    path = digital_link("", gtin, lot)
    return re.match(r"^https?://[^/?#]+(/[^?#]*)?$", anchor) is not None and anchor.endswith(path)


def _titled(href: str, media_type: str, zh: str, en: str) -> dict[str, Any]:
    return {
        "href": href,
        "title": zh,
        "title*": [{"value": zh, "language": ZH}, {"value": en, "language": EN}],
        "type": media_type,
    }


def _description(lot: str, name_zh: str, name_en: str | None) -> str:
    names = f"{name_zh} / {name_en}" if name_en else name_zh
    return f"{names}，批次 Lot {lot}"


def _product_page(page: str, lot: str, name_zh: str, name_en: str | None) -> dict[str, Any]:
    """The public page people see after scanning: both languages, chosen by Accept-Language."""
    en = f"{name_en}, lot {lot}: product and batch information" if name_en else f"Lot {lot}: product information"
    target = _titled(page, "text/html", f"{name_zh}，批次 {lot}：产品与批次信息", en)
    target["hreflang"] = [ZH, EN]
    return target


def _public_batch(base: str, gtin: str, lot: str) -> dict[str, Any]:
    href = f"{base}/api/v1/public/batches/{gtin}/{quote(lot, safe='')}"
    return _titled(href, "application/json", f"批次 {lot} 的追溯数据", f"Traceability data of lot {lot}")


def _epcis_events(base: str, canonical: str, lot: str) -> dict[str, Any]:
    """EPCIS 2.0 events whose class is this batch.  The class is named by its Digital Link,
    which EPCIS 2.0 accepts and which, unlike the ``urn:epc:class:lgtin`` form, does not need
    the length of the company prefix."""
    href = f"{base}/api/v1/epcis/events?{urlencode({'EQ_epcClass': canonical}, quote_via=quote, safe='')}"
    return _titled(href, "application/ld+json", f"批次 {lot} 的 EPCIS 事件", f"EPCIS events of lot {lot}")


# -- The HTTP Link header ----------------------------------------------------------------------


def link_header(linkset: Mapping[str, Any], linkset_url: str | None = None) -> str:
    """The ``Link`` header value for a resolver response: every target of every relation type
    of every context object, then the linkset itself (``rel="linkset"``), so that a client
    sent on to one link can still find all of them.

    Without ``linkset_url`` the linkset is the default link's target asked for with
    ``linkType=linkset`` (the standard's name; ``all`` is its deprecated one): our resolver
    serves the page for people and the linkset at the batch's one URL.

    Each link-value ends in a quoted ``title``: GS1's resolver test suite asks every link for a
    title, and splits the header at ``",`` to find them.
    """
    values = [_link_value(target, rel) for rel, target in _targets(linkset)]
    own = _titled(linkset_url or _default_linkset_url(linkset), LINKSET_TYPE, "全部链接", "All links")
    values.append(_link_value(own, "linkset"))
    return ", ".join(values)


def linkset_context_link() -> str:
    """The Link header value that lets a JSON-LD processor read a served linkset as JSON-LD."""
    return f'<{LINKSET_CONTEXT}>; rel="{JSON_LD_CONTEXT_REL}"; type="application/ld+json"'


def _targets(linkset: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(relation type, target) pairs: the members of context objects whose values are arrays."""
    for context in linkset["linkset"]:
        for rel, targets in context.items():
            if isinstance(targets, list):
                for target in targets:
                    yield rel, target


def _default_linkset_url(linkset: Mapping[str, Any]) -> str:
    defaults = [target for rel, target in _targets(linkset) if rel == DEFAULT_LINK]
    if len(defaults) != 1:
        raise ValueError(f"a linkset has exactly one {DEFAULT_LINK}, not {len(defaults)}")
    return urlsplit(str(defaults[0]["href"]))._replace(query="linkType=linkset", fragment="").geturl()


def _link_value(target: Mapping[str, Any], rel: str) -> str:
    params = [f"rel={_quoted(rel)}"]
    if target.get("type"):
        params.append(f"type={_quoted(target['type'])}")
    params += [f"hreflang={_quoted(language)}" for language in target.get("hreflang", [])]
    zh, en = _titles(target)
    if zh is not None:
        params.append(f"title*={_ext_value(zh[0], zh[1])}")
    params.append(f"title={_quoted(_ascii(en, fallback=str(target['href'])))}")
    return f"<{target['href']}>; " + "; ".join(params)


def _titles(target: Mapping[str, Any]) -> tuple[tuple[str, str] | None, str]:
    """The first non-English ``title*`` (value, language) for the header's ``title*``, and the
    English title (else the plain one) for its ASCII ``title``."""
    starred = [(item["value"], item["language"]) for item in target.get("title*", [])]
    other = next((item for item in starred if not item[1].lower().startswith("en")), None)
    english = next((value for value, language in starred if language.lower().startswith("en")), None)
    return other, english or str(target.get("title", ""))


def _ascii(text: str, fallback: str) -> str:
    """``text`` without its accents and any other non-ASCII or control characters: a header's
    quoted-string is ASCII.  The full title is in the linkset and in ``title*``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = " ".join(_CONTROL.sub(" ", folded).split())
    return folded or fallback


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ext_value(text: str, language: str) -> str:
    """RFC 8187 ``UTF-8'lang'percent-encoded``: how a header parameter carries non-ASCII text."""
    return f"UTF-8'{language}'{quote(_CONTROL.sub(' ', text), safe=_ATTR_CHAR_SAFE)}"
