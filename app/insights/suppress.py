"""Small groups are never shown: the one place that decides which figures are suppressed.

Every figure on every surface (page, charts, their tables, CSV, API, report) is a `Cell`
made by `Protection.cell`; nothing else turns a number into something shown.

Two rules, as survey tools with "strong protection" do:
- primary: a group with fewer active people than the organisation's minimum shows nothing;
- secondary: when the parent's figure is shown and exactly one of its children is
  suppressed, the parent minus the shown children would give the hidden child away, so the
  smallest other child is suppressed too.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

MIN_GROUP_CHOICES = range(3, 11)
DEFAULT_MIN_GROUP = 5


@dataclass(frozen=True)
class Cell:
    """A figure as shown: its value, or None with `suppressed` set."""

    value: float | None
    suppressed: bool = False

    @property
    def shown(self) -> bool:
        return not self.suppressed and self.value is not None


SUPPRESSED = Cell(None, True)


@dataclass(frozen=True)
class Protection:
    """Which groups (keys) of one parent may be shown, and whether the parent may."""

    min_group: int
    parent_shown: bool
    hidden: frozenset[Hashable]

    def shows(self, key: Hashable | None = None) -> bool:
        """Whether the parent (key None) or a child may be shown."""
        if not self.parent_shown:
            return False
        return key is None or key not in self.hidden

    def cell(self, value: float | None, key: Hashable | None = None) -> Cell:
        return Cell(value) if self.shows(key) else SUPPRESSED

    def pair(self, value: float | None, row: Hashable, column: Hashable) -> Cell:
        """A figure about two groups at once (a cell of the cross-unit matrix)."""
        return Cell(value) if self.shows(row) and self.shows(column) else SUPPRESSED


def protect(parent_size: int, children: Mapping[Hashable, int], min_group: int) -> Protection:
    """Decide for a parent group of `parent_size` people and its children (key -> size).

    Children with nobody in them are not groups: leave them out before calling.
    """
    if parent_size < min_group:
        return Protection(min_group, False, frozenset(children))
    hidden = {key for key, size in children.items() if size < min_group}
    if len(hidden) == 1:
        others = sorted(
            (size, str(key), key) for key, size in children.items() if key not in hidden
        )
        if others:
            hidden.add(others[0][2])
    return Protection(min_group, True, frozenset(hidden))


def share(part: int, whole: int) -> float | None:
    """A share in per cent, one decimal; None when there is nobody to share among."""
    return round(100 * part / whole, 1) if whole else None
