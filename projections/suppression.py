"""Which cells of the transparency statistics to withhold: a pure rule, no I/O.

A cell is an organisation's accesses (or shares) in one month under one legal gateway
and purpose, with two figures: events, and distinct people. Its **group** is the
organisation's month of that kind: the cells that add up to a total the organisation
itself knows, and may publish.

1. **Primary**: a cell whose events or people are below the threshold is withheld.
2. **Secondary**: in a group with a withheld cell, the group's smallest published cells
   (fewest people, then fewest events) are withheld as well, one by one, until the
   withheld cells of the group together reach the threshold in events and in people
   (so they are at least two), or none is left to withhold.

So in every group the withheld cells are none, or all of the group, or at least two
whose events and people each add up to at least the threshold: someone who knows the
group's total and subtracts the published cells learns only that sum, never one
withheld cell. Groups never share a cell, so no other total or cell narrows it down.
A group decides for itself, whatever else is read with it: a query filtered by month or
organisation, which takes whole groups, sees the same cells withheld.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    """One cell's figures, and the group whose total they add up to."""

    group: Hashable
    events: int
    people: int


Placed = tuple[int, Figures]  # a cell and its position in what the caller gave


def withheld(cells: Sequence[Figures], threshold: int) -> set[int]:
    """The positions in ``cells`` of the cells to withhold.

    Ties among a group's smallest cells go to the one given first, so callers give
    each group's cells in a fixed order."""
    groups: dict[Hashable, list[Placed]] = {}
    for position, cell in enumerate(cells):
        groups.setdefault(cell.group, []).append((position, cell))
    return {p for group in groups.values() for p, _ in _withheld_in_group(group, threshold)}


def _withheld_in_group(group: list[Placed], threshold: int) -> list[Placed]:
    hidden = [placed for placed in group if _small(placed[1], threshold)]
    if not hidden:
        return []
    shown = sorted(
        (placed for placed in group if not _small(placed[1], threshold)),
        key=lambda placed: (placed[1].people, placed[1].events),
    )
    while shown and not _covered([cell for _, cell in hidden], threshold):
        hidden.append(shown.pop(0))
    return hidden


def _small(cell: Figures, threshold: int) -> bool:
    return cell.events < threshold or cell.people < threshold


def _covered(cells: list[Figures], threshold: int) -> bool:
    """Whether withheld cells hide each other: together they reach the threshold in
    events and in people (so they are two or more: one small cell alone does not)."""
    return sum(c.events for c in cells) >= threshold and sum(c.people for c in cells) >= threshold
