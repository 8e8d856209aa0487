"""The grid service on SQLite and PostgreSQL, and ``python -m ledger grids`` as an operator runs it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Grid
from ledger.domain.grids import GridCsvError, GridNode
from ledger.errors import NotFound
from ledger.services.grids import (
    export_grids,
    grid_codes_under,
    grid_detail,
    import_grids,
    list_grids,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "grids_hangzhou.csv"
HEADER = "code,name,level,parent_code\n"
ADMIN = {"org": "org_admin0000001"}


def load(engine: Engine, data: str | bytes | None = None):  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return import_grids(session, FIXTURE.read_bytes() if data is None else data, ADMIN)


def snapshot(engine: Engine) -> tuple[int, list[tuple[str, str, str, str | None, int]]]:
    """The ledger size and every grid row: what a failed import must leave as it was."""
    with transaction(engine, readonly=True) as session:
        rows = session.execute(
            select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.updated_seq).order_by(Grid.code)
        )
        return store.tree_size(session), list(rows)


def entry(engine: Engine, seq: int) -> dict:  # type: ignore[type-arg]
    with transaction(engine, readonly=True) as session:
        return json.loads(store.get_entry(session, seq).entry)  # type: ignore[no-any-return]


def test_importing_the_fixture_appends_one_entry_with_every_node(engine: Engine) -> None:
    result = load(engine)
    assert (result.created, result.updated, result.unchanged, result.seq) == (34, 0, 0, 0)
    assert result.sha256 == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    recorded = entry(engine, 0)
    assert recorded["kind"] == "grids.imported" and recorded["subject"] == "grids"
    assert recorded["actor"] == ADMIN
    payload = recorded["payload"]
    assert payload["sha256"] == result.sha256
    assert payload["counts"] == {"created": 34, "updated": 0, "unchanged": 0}
    assert payload["created"][0] == {
        "code": "330100",
        "name": "杭州市市场监督管理局",
        "level": "city",
        "parent_code": None,
    }
    assert payload["updated"] == []
    size, rows = snapshot(engine)
    assert size == 1 and len(rows) == 34 and {row[4] for row in rows} == {0}


def test_reimporting_the_same_file_is_a_no_op(engine: Engine) -> None:
    load(engine)
    before = snapshot(engine)
    again = load(engine)
    assert (again.created, again.updated, again.unchanged, again.seq, again.changed) == (0, 0, 34, None, False)
    assert snapshot(engine) == before


def test_a_rename_appends_one_entry_and_records_updated_seq(engine: Engine) -> None:
    load(engine)
    text = HEADER + "33010601,西溪街道市场监管所,station,330106\n3301060104,西溪第四网格,grid,33010601\n"
    result = load(engine, text)
    assert (result.created, result.updated, result.unchanged, result.seq) == (1, 1, 0, 1)
    payload = entry(engine, 1)["payload"]
    assert payload["updated"] == [
        {"code": "33010601", "name": "西溪街道市场监管所", "level": "station", "parent_code": "330106"}
    ]
    assert [node["code"] for node in payload["created"]] == ["3301060104"]
    with transaction(engine, readonly=True) as session:
        renamed = session.get(Grid, "33010601")
        untouched = session.get(Grid, "33010602")
        assert renamed is not None and renamed.name == "西溪街道市场监管所" and renamed.updated_seq == 1
        assert untouched is not None and untouched.updated_seq == 0
    # nodes left out of a file are kept
    assert snapshot(engine)[0] == 2 and len(snapshot(engine)[1]) == 35


def test_concurrent_retries_append_one_entry(engine: Engine) -> None:
    barrier = threading.Barrier(3)

    def retry() -> int | None:
        barrier.wait()
        return load(engine).seq  # type: ignore[no-any-return]

    with ThreadPoolExecutor(3) as pool:
        seqs = list(pool.map(lambda _: retry(), range(3)))
    assert sorted(seqs, key=str) == [0, None, None]
    assert snapshot(engine)[0] == 1


@pytest.mark.parametrize(
    "bad",
    [
        # a valid new node next to a bad one: neither is written
        HEADER + "3301060104,西溪第四网格,grid,33010601\n3301060105,,grid,33010601\n",
        # moving a stored station to another district
        HEADER + "33010601,西溪市场监管所,station,330102\n",
        # a rename next to an unknown parent
        HEADER + "330106,西湖区局,district,330100\n3301069901,无主网格,grid,33019999\n",
        "code;name;level;parent_code\n",
        "330100,杭州市市场监督管理局,city,\n".encode("gbk"),
    ],
)
def test_an_invalid_import_appends_nothing_and_changes_no_row(engine: Engine, bad: str | bytes) -> None:
    load(engine)
    before = snapshot(engine)
    with pytest.raises(GridCsvError) as caught:
        load(engine, bad)
    assert caught.value.problems
    assert snapshot(engine) == before


def test_export_gives_back_the_imported_file(engine: Engine) -> None:
    load(engine)
    with transaction(engine, readonly=True) as session:
        assert export_grids(session) == FIXTURE.read_text(encoding="utf-8")


def test_lists_filter_by_level_parent_subtree_and_text(engine: Engine) -> None:
    load(engine)
    with transaction(engine, readonly=True) as session:
        assert [n.code for n in list_grids(session, level="district")] == ["330102", "330106", "330110"]
        assert [n.code for n in list_grids(session, parent="330110")] == ["33011001", "33011002"]
        xihu = list_grids(session, under="330106")
        assert xihu[0].code == "330106" and len(xihu) == 1 + 3 + 8
        assert [n.code for n in list_grids(session, under="330106", level="station")] == [
            "33010601",
            "33010602",
            "33010603",
        ]
        assert [n.name for n in list_grids(session, q="西溪")][0] == "西溪市场监管所"
        assert len(list_grids(session, q="西溪")) == 4
        assert list_grids(session, under="nowhere") == []
        assert len(list_grids(session)) == 34


def test_detail_gives_the_breadcrumb_and_children(engine: Engine) -> None:
    load(engine)
    with transaction(engine, readonly=True) as session:
        detail = grid_detail(session, "33010601")
        assert detail.node == GridNode("33010601", "西溪市场监管所", "station", "330106")
        assert [n.code for n in detail.ancestors] == ["330100", "330106"]
        assert [n.code for n in detail.children] == ["3301060101", "3301060102", "3301060103"]
        with pytest.raises(NotFound):
            grid_detail(session, "999")


def test_a_district_scope_rolls_up_its_stations_and_grids(engine: Engine) -> None:
    load(engine)
    with transaction(engine, readonly=True) as session:
        xihu = grid_codes_under(session, ["330106"])
        assert len(xihu) == 12 and all(code.startswith("330106") for code in xihu)
        assert grid_codes_under(session, ["3301020101", "33011002"]) == {
            "3301020101",
            "33011002",
            "3301100201",
            "3301100202",
        }
        assert len(grid_codes_under(session, ["330100"])) == 34
        assert grid_codes_under(session, ["unknown"]) == set()


def test_the_cli_imports_and_exports(tmp_path: Path, database_url: str, engine: Engine) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": database_url}

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "ledger", "grids", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == expect, done.stdout + done.stderr
        return done

    assert "34 created, 0 updated, 0 unchanged; ledger entry seq 0" in run("import", str(FIXTURE)).stdout
    assert "no changes" in run("import", str(FIXTURE)).stdout
    exported = run("export").stdout
    assert exported == FIXTURE.read_text(encoding="utf-8")

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "3301060104,,grid,33010601\n3301069901,无主网格,grid,33019999\n", encoding="utf-8")
    failed = run("import", str(bad), expect=1)
    assert "line 2: name must be 1 to 200 characters" in failed.stderr
    assert "line 3: parent_code 33019999 is neither in this file nor in the stored tree" in failed.stderr
    assert "nothing was imported" in failed.stderr
    assert snapshot(engine)[0] == 1
