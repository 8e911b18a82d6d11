"""Labels, charts and export rows of insights, in the reader's language."""

from collections.abc import Callable, Iterator
from typing import Any

from babel.dates import format_date

from app.errors import N_
from app.insights import charts
from app.insights.figures import DepartmentRow, Insights
from app.insights.periods import Bucket, Granularity
from app.insights.suppress import Cell

Gettext = Callable[[str], str]

COMPARISONS = {
    "per_week": N_("Recognitions per week"),
    "gave": N_("Share who gave at least one"),
    "received": N_("Share who received at least one"),
    "cross_unit": N_("Share from another unit"),
}
PERCENT = {"gave", "received", "cross_unit"}


def bucket_label(bucket: Bucket, locale: str, _: Gettext) -> str:
    if bucket.by == Granularity.week:
        year, week, _day = bucket.start.isocalendar()
        return _("Week %(week)s %(year)s") % {"week": week, "year": year}
    if bucket.by == Granularity.month:
        return format_date(bucket.start, "LLL y", locale=locale)
    quarter = (bucket.start.month - 1) // 3 + 1
    return _("Q%(quarter)s %(year)s") % {"quarter": quarter, "year": bucket.start.year}


def group_name(name: str, _: Gettext) -> str:
    return name or _("No department")


def context(ins: Insights, locale: str, _: Gettext) -> dict[str, Any]:
    """What the page and the report show: labels, the charts' geometry, the tables."""
    labels = [bucket_label(b, locale, _) for b in ins.buckets]
    org = ins.scope.org
    return {
        "ins": ins,
        "labels": labels,
        "comparison_labels": {key: _(label) for key, label in COMPARISONS.items()},
        "percent_keys": PERCENT,
        "recognitions_chart": charts.bar_chart(labels, ins.recognitions, org.theme_primary),
        "participation_chart": charts.line_chart(
            labels,
            [
                (_("Gave at least one"), org.theme_primary, ins.gave),
                (_("Received at least one"), org.theme_accent, ins.received),
            ],
            percent=True,
        ),
        "values_chart": charts.line_chart(
            labels, [(s.name, s.colour, s.cells) for s in ins.values], percent=False
        ),
    }


def _text(cell: Cell) -> str:
    return "" if cell.value is None else f"{cell.value:g}"


def export_rows(ins: Insights, locale: str, _: Gettext) -> Iterator[list[str]]:
    """Every chart's and table's data as CSV rows: section, period, group, measure, value,
    note. A suppressed figure has no value and says why."""
    hidden = _("Fewer than %(n)s people: not shown") % {"n": ins.min_group}

    def row(section: str, period: str, group: str, measure: str, cell: Cell) -> list[str]:
        return [section, period, group, measure, _text(cell), hidden if cell.suppressed else ""]

    whole = f"{ins.period.start.isoformat()}/{ins.period.last_day.isoformat()}"
    yield [_("Section"), _("Period"), _("Group"), _("Measure"), _("Value"), _("Note")]
    for i, bucket in enumerate(ins.buckets):
        for measure, cells in (
            (_("Recognitions received"), ins.recognitions),
            (_("Gave at least one (%)"), ins.gave),
            (_("Received at least one (%)"), ins.received),
            (_("From another unit (%)"), ins.cross_unit),
        ):
            yield row(_("Over time"), bucket.key, _("All in view"), measure, cells[i])
        for series in ins.values:
            yield row(_("Values"), bucket.key, _("All in view"), series.name, series.cells[i])
    for rows, section in ((ins.departments, _("Departments")), (ins.units, _("Units"))):
        for dept in rows:
            yield from _department_rows(row, section, whole, dept, _)
    if ins.matrix is not None:
        for giver, cells in zip(ins.matrix.units, ins.matrix.cells, strict=True):
            for recipient, cell in zip(ins.matrix.units, cells, strict=True):
                group = f"{group_name(giver.name, _)} → {group_name(recipient.name, _)}"
                yield row(_("Between units"), whole, group, _("Recognitions"), cell)
    for days, cell in ins.reach.items():
        yield row(
            _("Reach"),
            whole,
            _("All in view"),
            _("Recognised in the last %(days)s days (%%)") % {"days": days},
            cell,
        )
    for comparison in ins.comparisons:
        label = _(COMPARISONS[comparison.key])
        yield row(_("Comparison"), whole, _("This period"), label, comparison.current)
        yield row(_("Comparison"), whole, _("Previous period"), label, comparison.previous)
        if comparison.baseline is not None and ins.baseline:
            base = f"{ins.baseline[0].isoformat()}/{ins.baseline[1].isoformat()}"
            yield row(_("Comparison"), base, _("Baseline"), label, comparison.baseline)


def _department_rows(
    row: Callable[[str, str, str, str, Cell], list[str]],
    section: str,
    whole: str,
    dept: DepartmentRow,
    _: Gettext,
) -> Iterator[list[str]]:
    name = group_name(dept.group.name, _)
    yield row(section, whole, name, _("Recognitions received"), dept.recognitions)
    yield row(section, whole, name, _("Gave at least one (%)"), dept.gave)
    yield row(section, whole, name, _("Received at least one (%)"), dept.received)
    yield row(section, whole, name, _("From another unit (%)"), dept.cross_unit)
