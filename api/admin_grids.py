"""``/admin/grids``: the supervision grid tree, and importing it from the CSV that
``python -m ledger grids import`` reads (code,name,level,parent_code).

The import is ``ledger.services.grids.import_grids``: one ``grids.imported`` entry when the file
changes the tree, nothing when it does not (so sending the same file twice is harmless), and
nothing at all when any line is wrong — the page then lists every problem with its line.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import redirect, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.admin_common import FormError, admin, admin_page, blueprint, notice, refilled_by, render
from ledger.domain.grids import HEADER, LEVELS, CsvProblem, GridCsvError
from ledger.services import grids

SHOWN = 500  # a city's tree is a few thousand nodes; the filter narrows it
NO_FILE = _l("Choose the CSV file to import.")


def _grids_page(error: FormError | None = None, problems: Sequence[CsvProblem] = (), **_view_args: object) -> str:
    q = request.args.get("q", "").strip()
    under = request.args.get("under", "").strip()
    with context.reading() as session:
        nodes = grids.list_grids(session, under=under or None, q=q or None)
        total = len(grids.list_grids(session)) if q or under else len(nodes)
    return render(
        "admin_grids.html",
        section="grids",
        nodes=nodes[:SHOWN],
        matched=len(nodes),
        total=total,
        shown_limit=SHOWN,
        levels=LEVELS,
        header=",".join(HEADER),
        filters={"q": q, "under": under},
        error=error,
        problems=problems,
    )


@blueprint.get("/grids")
@admin_page
def grids_page() -> str:
    return _grids_page()


@blueprint.post("/grids/import")
@admin_page
@refilled_by(_grids_page, "import")
def import_grids() -> BaseResponse | tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _grids_page(FormError(str(NO_FILE), "file", None, "import")), 400
    data = upload.read()
    try:
        with context.writing() as session:
            result = grids.import_grids(session, data, admin().actor)
    except GridCsvError as exc:
        count = len(exc.problems)
        message = ngettext(
            "Nothing was imported: the file has %(num)d problem. Fix it and upload the file again.",
            "Nothing was imported: the file has %(num)d problems. Fix them and upload the file again.",
            count,
        )
        return _grids_page(FormError(message, "file", None, "import"), exc.problems), 422
    counts = gettext(
        "%(name)s: %(created)d added, %(updated)d renamed, %(unchanged)d unchanged.",
        name=upload.filename[:100],
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
    )
    if result.seq is None:
        outcome = gettext("Nothing changed, so nothing was written to the ledger.")
    else:
        outcome = gettext("Recorded as ledger entry #%(seq)d.", seq=result.seq)
    notice(f"{counts} {outcome}")
    # Redirected, so reloading the page does not send the file again.
    return redirect(url_for(".grids_page"), code=303)
