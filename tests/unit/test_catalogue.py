"""The Chinese catalogue covers every page text, and what the app loads is what the catalogue says.

A text added to a template or a route without a translation would show in English to every
Chinese visitor; these tests name it instead.  ``make messages`` updates the catalogue.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "api" / "translations" / "zh" / "LC_MESSAGES"
# The same sources and keywords as babel.cfg and `make messages`.
METHODS = [("api/**.py", "python"), ("api/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _po() -> Catalog:
    with (CATALOGUE / "messages.po").open("rb") as file:
        return read_po(file, locale="zh")


def _texts_in_the_code() -> set[str]:
    found = extract_from_dir(str(ROOT), method_map=METHODS, keywords=KEYWORDS)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def _translated(catalogue: Catalog, msgid: str) -> bool:
    message = catalogue.get(msgid)
    if message is None or message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def _key(value: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)  # plural forms come as lists or tuples


def test_every_text_of_the_pages_has_a_chinese_translation() -> None:
    catalogue = _po()
    texts = _texts_in_the_code()
    assert len(texts) > 150  # the extraction found the pages' texts at all
    assert sorted(text for text in texts if not _translated(catalogue, text)) == []


def test_translations_keep_the_placeholders_of_their_texts() -> None:
    # Babel's checks: the same %(name)s placeholders on both sides, so formatting never fails.
    problems = [(message.id, [str(error) for error in errors]) for message, errors in _po().check()]
    assert problems == []


def test_the_compiled_catalogue_is_the_current_one() -> None:
    with (CATALOGUE / "messages.mo").open("rb") as file:
        compiled = read_mo(file)
    expected = {_key(message.id): _key(message.string) for message in _po() if message.id and not message.fuzzy}
    loaded = {_key(message.id): _key(message.string) for message in compiled if message.id}
    assert loaded == expected, "run 'make messages' to compile api/translations"
