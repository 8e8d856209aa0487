"""Page languages: Simplified Chinese by default, English on request, the choice remembered.

Message ids are the English sentences (``_("Staff login")`` in templates, ``gettext`` in
Python); ``api/translations/zh/LC_MESSAGES/messages.po`` holds the Chinese.  English needs no
catalogue: an untranslated id is already English.

The visitor's choice (the language link on every page) is kept in a cookie for a year.  Without
one, a browser that prefers English over Chinese gets English — a visitor from abroad scanning
an elevator QR — and everyone else gets Chinese.

Catalogues: ``make messages`` extracts the ids into ``messages.pot`` and updates the ``.po``;
``make test`` checks that every id has a translation and that the compiled ``.mo`` is current.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, redirect, request
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response as BaseResponse

from api.account_routes import safe_next

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"
# The value of <html lang> for each language (BCP 47).
HTML_LANG = {"zh": "zh-CN", "en": "en"}
TRANSLATIONS = Path(__file__).parent / "translations"
ONE_YEAR = 365 * 24 * 3600

blueprint = Blueprint("i18n", __name__)


def page_language() -> str:
    """The language this request's page is in: Flask-Babel's choice, made once per request."""
    return str(get_locale() or DEFAULT)


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


@blueprint.get("/lang/<language>")
def choose(language: str) -> BaseResponse:
    """Remember the visitor's language and go back to the page the link was on."""
    response = redirect(safe_next(request.args.get("next")) if request.args.get("next") else "/", code=303)
    if language in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


def _this_address() -> str:
    """The path and query as the browser sent them: a lot with a slash in it stays ``%2F``."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return str(raw)
    query = request.query_string.decode("latin-1")
    return quote(request.path, safe="/") + (f"?{query}" if query else "")


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT,
        default_translation_directories=str(TRANSLATIONS),
    )

    @app.after_request
    def vary_by_language(response: Response) -> Response:
        # Pages differ by language: a shared cache must not give one visitor's choice to another.
        if response.mimetype == "text/html":
            response.vary.update(("Cookie", "Accept-Language"))
        return response

    @app.template_global()
    def in_language(zh: str, en: str | None) -> str:
        """Pick the visitor's language from data that carries both (product and rule names);
        data without an English name shows its Chinese one."""
        return en if page_language() == "en" and en else zh

    @app.context_processor
    def language() -> dict[str, object]:
        current = page_language()
        other = "en" if current == "zh" else "zh"
        here = _this_address()
        return {
            "html_lang": HTML_LANG[current],
            "language": current,
            "other_language": other,
            # The link names the other language in that language, as language menus do.
            "other_language_name": "English" if other == "en" else "中文",
            "language_switch_url": f"/lang/{other}?{urlencode({'next': here})}",
        }
