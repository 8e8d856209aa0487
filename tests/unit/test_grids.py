"""The grid tree's pure rules: strict CSV parsing, the CSV round trip and the roll-up."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.grids import (
    LEVELS,
    GridCsvError,
    GridNode,
    ancestors,
    children_index,
    covers,
    descendants,
    parse_csv,
    to_csv,
    tree_order,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "grids_hangzhou.csv"
HEADER = "code,name,level,parent_code\n"
CITY = GridNode("330100", "杭州市市场监督管理局", "city")
XIHU = GridNode("330106", "西湖区市场监督管理局", "district", "330100")
XIXI = GridNode("33010601", "西溪市场监管所", "station", "330106")


def problems(text: str | bytes, existing: tuple[GridNode, ...] = ()) -> list[str]:
    with pytest.raises(GridCsvError) as caught:
        parse_csv(text, existing)
    return [str(p) for p in caught.value.problems]


def hangzhou() -> list[GridNode]:
    return parse_csv(FIXTURE.read_bytes())


# --- parsing ------------------------------------------------------------------------------


def test_the_hangzhou_fixture_has_all_four_levels() -> None:
    nodes = hangzhou()
    assert nodes[0] == CITY
    assert {n.level for n in nodes} == set(LEVELS)
    assert XIHU in nodes and XIXI in nodes
    assert GridNode("3301060101", "西溪第一网格", "grid", "33010601") in nodes


def test_a_bom_padding_and_blank_lines_are_accepted() -> None:
    text = (
        "\ufeff" + HEADER + " 330100 , 杭州市  市场监督管理局 ,city, \n\n330106,西湖区市场监督管理局,district,330100\n"
    )
    assert parse_csv(text.encode()) == [GridNode("330100", "杭州市 市场监督管理局", "city"), XIHU]


def test_crlf_line_ends_and_quoted_cells() -> None:
    text = 'code,name,level,parent_code\r\n330100,"杭州市""市局"",总部",city,\r\n'
    assert parse_csv(text) == [GridNode("330100", '杭州市"市局",总部', "city")]


def test_parents_may_come_after_their_children_or_already_be_stored() -> None:
    text = HEADER + "33010601,西溪市场监管所,station,330106\n330106,西湖区市场监督管理局,district,330100\n"
    assert parse_csv(text, (CITY,)) == [XIXI, XIHU]


def test_a_stored_node_may_be_renamed() -> None:
    assert parse_csv(HEADER + "330106,西湖区局,district,330100\n", (CITY, XIHU)) == [
        GridNode("330106", "西湖区局", "district", "330100")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "line 1: the file is empty"),
        ("code,name,level\n330100,杭州,city\n", "line 1: the header must be exactly code,name,level,parent_code"),
        ("Code,Name,Level,Parent_code\n", "line 1: the header must be exactly"),
        (HEADER + "330100,杭州,city\n", "line 2: expected 4 fields (code,name,level,parent_code), found 3"),
        (HEADER + "330100,杭州,city,,\n", "line 2: expected 4 fields"),
        (HEADER + ",杭州,city,\n", "line 2: code '' must be 1 to 32 letters"),
        (HEADER + "3301_00,杭州,city,\n", "line 2: code '3301_00' must be"),
        (HEADER + "-330100,杭州,city,\n", "not starting with '-'"),
        (HEADER + "A" * 33 + ",杭州,city,\n", "must be 1 to 32"),
        (HEADER + "330100,,city,\n", "line 2: name must be 1 to 200 characters"),
        (HEADER + "330100," + "杭" * 201 + ",city,\n", "line 2: name must be 1 to 200 characters"),
        (HEADER + "330100,=HYPERLINK(1),city,\n", "must not start with"),
        (HEADER + "330100,杭州\x07,city,\n", "line 2: name must not contain control characters"),
        (HEADER + "330100,杭州,province,\n", "line 2: level 'province' is not one of city, district, station, grid"),
        (HEADER + "330100,杭州,City,\n", "level 'City' is not one of"),
        (HEADER + "330100,杭州,city,33/01\n", "line 2: parent_code '33/01' must be"),
        (HEADER + "330100,杭州,city,990000\n", "line 2: a city has no parent_code, found 990000"),
        (HEADER + "330106,西湖,district,\n", "line 2: a district needs a parent_code: the code of its city"),
        (HEADER + "330106,西湖,district,330100\n", "line 2: parent_code 330100 is neither in this file nor"),
        (HEADER + '330100,"杭州,city,\n', "line 2: malformed CSV"),
        (HEADER + '330100,"杭州"x,city,\n', "line 2: malformed CSV"),
    ],
)
def test_each_bad_input_is_named_with_its_line(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_a_parent_must_be_exactly_one_level_up() -> None:
    text = HEADER + "330100,杭州,city,\n33010601,西溪,station,330100\n3301060101,西溪一格,grid,330100\n"
    assert problems(text) == [
        "line 3: parent 330100 is a city; the parent of a station must be a district",
        "line 4: parent 330100 is a city; the parent of a grid must be a station",
    ]


def test_duplicate_codes_are_refused_with_the_first_line() -> None:
    text = HEADER + "330100,杭州,city,\n330106,西湖,district,330100\n330106,西湖区,district,330100\n"
    assert problems(text) == ["line 4: code 330106 is already defined on line 3"]


def test_cycles_are_impossible_because_parents_are_one_level_up() -> None:
    text = HEADER + "A,甲,district,B\nB,乙,district,A\nS,丙,station,S\n"
    assert problems(text) == [
        "line 2: parent B is a district; the parent of a district must be a city",
        "line 3: parent A is a district; the parent of a district must be a city",
        "line 4: parent S is a station; the parent of a station must be a district",
    ]


def test_a_stored_node_cannot_move_or_change_level() -> None:
    other = GridNode("330102", "上城区市场监督管理局", "district", "330100")
    text = HEADER + "33010601,西溪,station,330102\n330106,西湖,station,330102\n"
    assert problems(text, (CITY, XIHU, XIXI, other)) == [
        "line 2: 33010601 is already a station under 330106; "
        "an import may rename a node but not change its level or parent",
        "line 3: 330106 is already a district under 330100; "
        "an import may rename a node but not change its level or parent",
    ]


def test_children_of_a_refused_level_change_are_checked_against_the_stored_level() -> None:
    text = HEADER + "3301060104,西溪第四网格,grid,33010601\n33010601,西溪,district,330100\n"
    assert problems(text, (CITY, XIHU, XIXI)) == [
        "line 3: 33010601 is already a station under 330106; "
        "an import may rename a node but not change its level or parent"
    ]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = (
        HEADER
        + "330100,杭州,city,\n"
        + "330106,,district,330100\n"  # no name
        + "3301060x,西溪,station,\n"  # no parent
        + "33010601,西溪,region,330106\n"  # bad level
        + '"3301060101\n","西溪\n第一网格",grid,33010601\n'  # quoted cells spanning lines 6 to 8 are fine
        + "3301060102,西溪,grid,999\n"  # unknown parent, on line 9
    )
    found = problems(text)
    assert [p.split(":")[0] for p in found] == ["line 3", "line 4", "line 5", "line 9"]


def test_the_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(GridCsvError) as caught:
        parse_csv(HEADER + "330100,杭州,town,\n330101,,city,\n")
    assert str(caught.value).splitlines() == [
        "the grid CSV has 2 problems",
        "line 2: level 'town' is not one of city, district, station, grid",
        "line 3: name must be 1 to 200 characters",
    ]
    assert caught.value.status == 422


def test_bytes_that_are_not_utf8_are_refused_with_the_line() -> None:
    gbk = (HEADER + "330100,杭州市,city,\n").encode("gbk")
    assert problems(gbk) == [
        "line 2: the file is not UTF-8; save it as 'CSV UTF-8' (GBK and other encodings are refused)"
    ]


def test_a_child_of_an_invalid_row_gets_no_second_complaint() -> None:
    text = HEADER + "330100,杭州,city,\n330106,,district,330100\n33010601,西溪,station,330106\n"
    assert problems(text) == ["line 3: name must be 1 to 200 characters"]


# --- writing ------------------------------------------------------------------------------


def test_export_of_the_fixture_is_the_fixture() -> None:
    assert to_csv(hangzhou()) == FIXTURE.read_text(encoding="utf-8")


def test_tree_order_puts_parents_first_whatever_the_input_order() -> None:
    nodes = hangzhou()
    shuffled = nodes[:]
    random.Random(7).shuffle(shuffled)
    assert tree_order(shuffled) == nodes
    assert to_csv(reversed(nodes)) == to_csv(nodes)


def test_tree_order_refuses_a_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        tree_order([GridNode("A", "甲", "district", "B"), GridNode("B", "乙", "district", "A")])


def test_to_csv_quotes_what_needs_quoting() -> None:
    node = GridNode("330100", '杭州,"市局"', "city")
    assert to_csv([node]) == HEADER + '330100,"杭州,""市局""",city,\n'
    assert parse_csv(to_csv([node])) == [node]


# --- roll-up ------------------------------------------------------------------------------


def parent_map(nodes: list[GridNode]) -> dict[str, str | None]:
    return {n.code: n.parent_code for n in nodes}


def test_ancestors_are_the_breadcrumb_city_first() -> None:
    parent_of = parent_map(hangzhou())
    assert ancestors("3301060101", parent_of) == ["330100", "330106", "33010601"]
    assert ancestors("330100", parent_of) == []
    assert ancestors("unknown", parent_of) == []
    with pytest.raises(ValueError, match="cycle"):
        ancestors("A", {"A": "B", "B": "A"})


def test_a_district_scope_covers_its_stations_and_grids_only() -> None:
    parent_of = parent_map(hangzhou())
    below = descendants(["330106"], children_index(parent_of))
    assert "33010601" in below and "3301060101" in below and "330106" not in below
    assert all(code.startswith("330106") for code in below) and len(below) == 3 + 8
    assert covers({"330106"}, "3301060302", parent_of)
    assert covers({"330106"}, "330106", parent_of)
    assert not covers({"330106"}, "3301020101", parent_of)
    assert not covers({"330106"}, "330100", parent_of)
    assert covers({"330100"}, "3301100202", parent_of)


def test_children_are_listed_by_code() -> None:
    children = children_index(parent_map(hangzhou()))
    assert children["330100"] == ["330102", "330106", "330110"]
    assert children["33010601"] == ["3301060101", "3301060102", "3301060103"]


# --- properties ---------------------------------------------------------------------------

CODES = st.from_regex(r"[0-9A-Za-z][0-9A-Za-z-]{0,31}", fullmatch=True)
NAMES = (
    st.text(st.characters(categories=("L", "N", "P", "Zs")) | st.sampled_from(',"\n'), min_size=1, max_size=30)
    .map(lambda name: " ".join(name.split()))
    .filter(lambda name: name and not name.startswith(("=", "+", "-", "@")))
)


@st.composite
def trees(draw: st.DrawFn) -> list[GridNode]:
    """A valid forest: each node's parent drawn among the nodes one level up drawn before it."""
    codes = draw(st.lists(CODES, min_size=1, max_size=25, unique=True))
    placed: dict[str, list[str]] = {level: [] for level in LEVELS}
    nodes = []
    for code in codes:
        level = draw(st.sampled_from([lv for i, lv in enumerate(LEVELS) if i == 0 or placed[LEVELS[i - 1]]]))
        depth = LEVELS.index(level)
        parent = draw(st.sampled_from(placed[LEVELS[depth - 1]])) if depth else None
        nodes.append(GridNode(code, draw(NAMES), level, parent))
        placed[level].append(code)
    return nodes


@given(trees(), st.randoms())
def test_csv_round_trip_whatever_the_order(nodes: list[GridNode], rng: random.Random) -> None:
    text = to_csv(nodes)
    parsed = parse_csv(text)
    assert sorted(parsed, key=lambda n: n.code) == sorted(nodes, key=lambda n: n.code)
    assert parsed == tree_order(nodes)
    rng.shuffle(nodes)
    assert to_csv(nodes) == text


@given(trees(), st.data())
def test_a_scope_covers_exactly_its_subtree(nodes: list[GridNode], data: st.DataObject) -> None:
    parent_of = parent_map(nodes)
    scope = data.draw(st.sets(st.sampled_from(sorted(parent_of)), max_size=3))
    inside = scope | descendants(scope, children_index(parent_of))
    assert {code for code in parent_of if covers(scope, code, parent_of)} == inside


@given(trees(), st.integers(min_value=0))
def test_a_tree_may_be_split_between_the_store_and_the_file(nodes: list[GridNode], cut: int) -> None:
    ordered = tree_order(nodes)
    cut %= len(ordered) + 1
    assert set(parse_csv(to_csv(ordered[cut:]), ordered[:cut])) == set(ordered[cut:])
