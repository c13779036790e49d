"""Which statistics cells are withheld: no small cell is published, and no withheld cell
can be worked out from its group's total and the cells published beside it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.suppression import Figures, withheld

T = 10


def cells(*figures: tuple[int, int], group: str = "DWP 2026-03 access") -> list[Figures]:
    return [Figures(group, events, people) for events, people in figures]


def test_a_cell_of_many_events_about_few_people_is_withheld() -> None:
    assert withheld(cells((50, 3)), T) == {0}


def test_a_cell_of_one_event_about_many_people_is_withheld() -> None:
    assert withheld(cells((1, 1000)), T) == {0}


def test_cells_at_the_threshold_are_published() -> None:
    assert withheld(cells((10, 10), (40, 12)), T) == set()


def test_a_lone_small_cell_takes_the_smallest_other_with_it() -> None:
    assert withheld(cells((90, 80), (3, 3), (20, 15), (30, 30)), T) == {1, 2}


def test_ties_go_to_the_cell_given_first() -> None:
    assert withheld(cells((3, 3), (20, 15), (20, 15)), T) == {0, 1}


def test_small_cells_that_together_reach_the_threshold_hide_each_other() -> None:
    assert withheld(cells((6, 6), (5, 5), (30, 30)), T) == {0, 1}


def test_small_cells_short_of_the_threshold_together_take_another() -> None:
    assert withheld(cells((2, 2), (3, 3), (30, 30), (12, 12)), T) == {0, 1, 3}


def test_many_events_do_not_cover_too_few_people() -> None:
    assert withheld(cells((40, 3), (40, 4), (40, 40), (40, 30)), T) == {0, 1, 3}


def test_a_group_of_small_cells_is_withheld_whole() -> None:
    assert withheld(cells((2, 2), (3, 3)), T) == {0, 1}


def test_each_group_is_protected_on_its_own() -> None:
    table = cells((3, 3), (20, 20), group="DWP") + cells((20, 20), (30, 30), group="HMRC")

    assert withheld(table, T) == {0, 1}


# Generated tables: a few groups of a few cells, small figures so that every case
# (small by events, by people, both, neither, at the threshold) comes up often.
figures = st.builds(
    Figures,
    group=st.integers(0, 3),
    events=st.integers(1, 40),
    people=st.one_of(st.integers(0, 40), st.integers(0, 2000)),
)
tables = st.lists(figures, max_size=24)
thresholds = st.integers(1, 15)


def by_group(table: list[Figures]) -> dict[object, list[int]]:
    groups: dict[object, list[int]] = {}
    for position, cell in enumerate(table):
        groups.setdefault(cell.group, []).append(position)
    return groups


@given(tables, thresholds)
def test_no_published_cell_is_small(table: list[Figures], threshold: int) -> None:
    hidden = withheld(table, threshold)

    for position, cell in enumerate(table):
        if position not in hidden:
            assert cell.events >= threshold and cell.people >= threshold


@given(tables, thresholds)
def test_a_group_total_less_the_published_cells_reveals_no_withheld_cell(
    table: list[Figures], threshold: int
) -> None:
    hidden = withheld(table, threshold)

    for members in by_group(table).values():
        gone = [table[p] for p in members if p in hidden]
        # Total less published cells = the sum of the withheld ones: it names one cell
        # only if one is withheld (and then it is the whole group), and it is small only
        # if the whole group is.
        if len(gone) == 1:
            assert len(members) == 1
        if gone and len(gone) < len(members):
            assert sum(c.events for c in gone) >= threshold
            assert sum(c.people for c in gone) >= threshold


@given(tables, thresholds)
def test_only_the_smallest_cells_are_withheld_to_protect_others(
    table: list[Figures], threshold: int
) -> None:
    hidden = withheld(table, threshold)

    for members in by_group(table).values():
        small = [p for p in members if min(table[p].events, table[p].people) < threshold]
        extra = [table[p] for p in members if p in hidden and p not in small]
        shown = [table[p] for p in members if p not in hidden]
        if not small:
            assert not extra
        for cell in extra:
            assert all((cell.people, cell.events) <= (s.people, s.events) for s in shown)


@given(tables, thresholds, st.sets(st.integers(0, 3)))
def test_a_query_for_some_groups_withholds_the_same_cells(
    table: list[Figures], threshold: int, chosen: set[int]
) -> None:
    hidden = withheld(table, threshold)
    kept = [p for p, cell in enumerate(table) if cell.group in chosen]

    hidden_in_part = withheld([table[p] for p in kept], threshold)

    assert {kept[i] for i in hidden_in_part} == {p for p in kept if p in hidden}
