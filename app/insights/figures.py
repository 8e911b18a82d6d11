"""The figures of insights, read from the maintained aggregates and passed through
`suppress.protect` before anything can show them."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal
from sqlmodel import Session, col, select

from app.insights.maintain import KIND_OF, day_start, local_day, org_zone
from app.insights.models import (
    NO_DEPARTMENT,
    InsightActivity,
    InsightPeriod,
    InsightPeriodPair,
    InsightPeriodValue,
)
from app.insights.periods import Bucket, Granularity, Period, floor, next_start
from app.insights.scope import InsightScope
from app.insights.suppress import Cell, Protection, protect, share
from app.orgs.models import Department, Person, Value
from app.recognition.models import Recognition, RecognitionRecipient

A = InsightActivity
REACH_DAYS = (30, 90)
RARELY_SEEN_DAYS = 30


@dataclass(frozen=True)
class Group:
    """A department as a group of people (its own people only, or with those below it)."""

    key: int
    name: str
    depth: int
    size: int


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    colour: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class DepartmentRow:
    group: Group
    recognitions: Cell
    gave: Cell  # share of its people who gave, per cent
    received: Cell
    cross_unit: Cell  # recognitions from another department, per cent of its recognitions


@dataclass(frozen=True)
class Comparison:
    key: str
    current: Cell
    previous: Cell
    baseline: Cell | None  # None: no baseline marked


@dataclass(frozen=True)
class Matrix:
    units: tuple[Group, ...]
    cells: tuple[tuple[Cell, ...], ...]  # [giver unit][receiving unit]


@dataclass
class Insights:
    scope: InsightScope
    period: Period
    min_group: int
    size: int  # active people in scope
    shown: bool  # False: the whole scope is a small group
    recognitions: tuple[Cell, ...] = ()
    gave: tuple[Cell, ...] = ()
    received: tuple[Cell, ...] = ()
    cross_unit: tuple[Cell, ...] = ()
    values: tuple[Series, ...] = ()
    departments: tuple[DepartmentRow, ...] = ()
    matrix: Matrix | None = None
    units: tuple[DepartmentRow, ...] = ()  # the departments rolled up to the matrix's units
    latest: Bucket | None = None  # what the departments, matrix and comparisons are about
    reach: dict[int, Cell] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    baseline: tuple[date, date] | None = None
    rarely_seen: int | None = None  # None: the viewer has no such list

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        return self.period.buckets


# --- groups and their sizes --------------------------------------------------------------


def _sizes(session: Session, org_id: int) -> dict[int, int]:
    rows = session.exec(
        select(Person.department_id, func.count())
        .where(Person.org_id == org_id, col(Person.active).is_(True))
        .group_by(col(Person.department_id))
    ).all()
    return {dept or NO_DEPARTMENT: n for dept, n in rows}


def _tree(session: Session, scope: InsightScope) -> list[tuple[Department, int]]:
    from app.orgs.departments import department_tree

    return [
        (d, depth) for d, depth in department_tree(session, scope.org) if d.id in scope.departments
    ]


def scope_groups(session: Session, scope: InsightScope) -> tuple[list[Group], dict[int, int]]:
    """The groups that partition the scope's people (each department's own people, plus
    "no department" for the whole organisation), and each department's matrix unit."""
    sizes = _sizes(session, scope.org.id)  # type: ignore[arg-type]
    tree = _tree(session, scope)
    groups = [
        Group(d.id, d.name, depth, sizes.get(d.id, 0))  # type: ignore[arg-type]
        for d, depth in tree
        if sizes.get(d.id, 0)  # type: ignore[arg-type]
    ]
    if scope.whole_org and sizes.get(NO_DEPARTMENT):
        groups.append(Group(NO_DEPARTMENT, "", 0, sizes[NO_DEPARTMENT]))
    return groups, _units(tree, scope)


def _units(tree: list[tuple[Department, int]], scope: InsightScope) -> dict[int, int]:
    """Each department in scope mapped to its matrix unit: the top departments of the scope,
    or, when there is only one, its children (its own people forming a unit of their own)."""
    in_scope = {d.id for d, _ in tree}
    parent = {d.id: d.parent_id for d, _ in tree}
    roots = [d.id for d, _ in tree if d.parent_id not in in_scope]
    top = set(roots)
    if len(roots) == 1:
        top = {d.id for d, _ in tree if d.parent_id == roots[0]} | {roots[0]}
    unit: dict[int, int] = {}
    for dept_id in in_scope:
        current: int | None = dept_id
        while current not in top and parent.get(current) in in_scope:
            current = parent[current]
        if dept_id is not None and current is not None:
            unit[dept_id] = current
    unit[NO_DEPARTMENT] = NO_DEPARTMENT
    return unit


# --- queries on the aggregates --------------------------------------------------------------


def _in_scope(column: Any, scope: InsightScope) -> ColumnElement[bool]:
    return literal(True) if scope.whole_org else column.in_(sorted(scope.departments))


P, PV, PP = InsightPeriod, InsightPeriodValue, InsightPeriodPair
_FIGURES = (
    "received",
    "received_listed",
    "cross_listed",
    "givers",
    "receivers",
    "givers_listed",
    "receivers_listed",
)


def _period_rows(
    session: Session, scope: InsightScope, kind: str, starts: Sequence[date]
) -> dict[date, dict[int, dict[str, int]]]:
    """start -> department -> its figures, for the departments in scope."""
    out: dict[date, dict[int, dict[str, int]]] = defaultdict(dict)
    for row in session.exec(
        select(P.start, P.dept_id, *[getattr(P, f) for f in _FIGURES]).where(  # type: ignore[call-overload]
            P.org_id == scope.org.id,
            P.kind == kind,
            col(P.start).in_(sorted(set(starts))),
            _in_scope(col(P.dept_id), scope),
        )
    ):
        out[row[0]][row[1]] = dict(zip(_FIGURES, row[2:], strict=True))
    return out


def _value_rows(
    session: Session, scope: InsightScope, kind: str, starts: Sequence[date]
) -> dict[tuple[date, int], int]:
    rows = session.exec(
        select(PV.start, PV.value_id, func.sum(PV.n))  # type: ignore[call-overload]
        .where(
            PV.org_id == scope.org.id,
            PV.kind == kind,
            col(PV.start).in_(sorted(set(starts))),
            _in_scope(col(PV.dept_id), scope),
        )
        .group_by(PV.start, PV.value_id)
    )
    return {(start, value_id): int(n) for start, value_id, n in rows}


def _pair_rows(session: Session, scope: InsightScope, kind: str, start: date) -> list[Any]:
    return list(
        session.exec(
            select(PP.giver_dept, PP.recipient_dept, PP.n).where(
                PP.org_id == scope.org.id,
                PP.kind == kind,
                PP.start == start,
                _in_scope(col(PP.recipient_dept), scope),
                _in_scope(col(PP.giver_dept), scope),
            )
        )
    )


def _reached(session: Session, scope: InsightScope, today: date, days: int) -> int:
    """Active people in scope recognised at least once in the last `days` local days."""
    since = today - timedelta(days=days - 1)
    dept = func.coalesce(Person.department_id, NO_DEPARTMENT)
    seen = (
        select(A.person_id).where(A.person_id == Person.id, A.role == "r", A.day >= since).exists()
    )
    return int(
        session.exec(
            select(func.count()).where(
                Person.org_id == scope.org.id,
                col(Person.active).is_(True),
                _in_scope(dept, scope),
                seen,
            )
        ).one()
    )


# --- putting it together ------------------------------------------------------------------


def _sum(rows: dict[int, dict[str, int]], name: str) -> int:
    return sum(r[name] for r in rows.values())


def _summary(rows: dict[int, dict[str, int]], days: int, size: int) -> dict[str, float | None]:
    """A period's headline figures: recognitions per week, and shares in per cent."""
    return {
        "per_week": round(_sum(rows, "received") / max(days, 1) * 7, 1),
        "gave": share(_sum(rows, "givers"), size),
        "received": share(_sum(rows, "receivers"), size),
        "cross_unit": share(_sum(rows, "cross_listed"), _sum(rows, "received_listed")),
    }


def baseline_bucket(org: Any) -> Bucket | None:
    """The marked baseline as the week, month or quarter it is."""
    start, end = org.insight_baseline_start, org.insight_baseline_end
    if not start or not end:
        return None
    for gran in (Granularity.week, Granularity.month, Granularity.quarter):
        if floor(start, gran) == start and next_start(start, gran) == end + timedelta(days=1):
            return Bucket(start, end + timedelta(days=1), gran)
    return None


def insights(session: Session, scope: InsightScope, period: Period, now: datetime) -> Insights:
    """Every figure of the insights page for `scope` over `period`, suppression applied.

    Charts follow the period bucket by bucket; departments, the matrix and the comparisons
    are about its last bucket ("this month"), against the one before and the baseline.
    """
    org = scope.org
    k = org.insight_min_group
    groups, unit_of = scope_groups(session, scope)
    size = sum(g.size for g in groups)
    protection = protect(size, {g.key: g.size for g in groups}, k)
    result = Insights(scope, period, k, size, protection.shows())
    if scope.empty:
        return result
    today = local_day(now, org_zone(org))
    result.rarely_seen = rarely_seen_count(session, scope, today) if scope.rarely_seen else None
    base = baseline_bucket(org)
    result.baseline = (base.start, base.end - timedelta(days=1)) if base else None
    kind = KIND_OF[period.by]
    buckets = period.buckets
    last = buckets[-1]
    previous = floor(last.start - timedelta(days=1), period.by)
    starts = [b.start for b in buckets] + [previous]
    rows = _period_rows(session, scope, kind, starts)
    if base is not None and base.by != period.by:
        base_rows = _period_rows(session, scope, KIND_OF[base.by], [base.start])[base.start]
    else:
        base_rows = rows.get(base.start, {}) if base else {}
    if base is not None and base.by == period.by and base.start not in starts:
        base_rows = _period_rows(session, scope, kind, [base.start])[base.start]

    def per_bucket(f: Any) -> tuple[Cell, ...]:
        return tuple(protection.cell(f(rows.get(b.start, {}))) for b in buckets)

    result.recognitions = per_bucket(lambda r: _sum(r, "received"))
    result.gave = per_bucket(lambda r: share(_sum(r, "givers"), size))
    result.received = per_bucket(lambda r: share(_sum(r, "receivers"), size))
    result.cross_unit = per_bucket(
        lambda r: share(_sum(r, "cross_listed"), _sum(r, "received_listed"))
    )

    values = session.exec(
        select(Value).where(Value.org_id == org.id).order_by(col(Value.position), col(Value.id))
    ).all()
    per_value = _value_rows(session, scope, kind, [b.start for b in buckets])
    used = {value_id for _start, value_id in per_value}
    result.values = tuple(
        Series(
            str(v.id),
            v.name,
            v.colour,
            tuple(protection.cell(per_value.get((b.start, v.id), 0)) for b in buckets),  # type: ignore[arg-type]
        )
        for v in values
        if v.active or v.id in used
    )

    latest = rows.get(last.start, {})
    empty = dict.fromkeys(_FIGURES, 0)
    result.departments = tuple(_row(g, latest.get(g.key, empty), protection) for g in groups)
    result.matrix = _matrix(session, scope, kind, last, groups, unit_of, size, k)
    if result.matrix is not None:
        units: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_FIGURES, 0))
        for g in groups:
            for name, n in latest.get(g.key, empty).items():
                units[unit_of.get(g.key, g.key)][name] += n
        unit_protection = protect(size, {u.key: u.size for u in result.matrix.units}, k)
        result.units = tuple(_row(u, units[u.key], unit_protection) for u in result.matrix.units)
    result.reach = {
        days: protection.cell(share(_reached(session, scope, today, days), size))
        for days in REACH_DAYS
    }
    now_figures = _summary(latest, last.days, size)
    before = _summary(rows.get(previous, {}), (last.start - previous).days, size)
    base_figures = _summary(base_rows, base.days, size) if base else None
    result.comparisons = tuple(
        Comparison(
            key,
            protection.cell(now_figures[key]),
            protection.cell(before[key]),
            protection.cell(base_figures[key]) if base_figures is not None else None,
        )
        for key in ("per_week", "gave", "received", "cross_unit")
    )
    result.latest = last
    return result


def _row(group: Group, figures: dict[str, int], protection: Protection) -> DepartmentRow:
    return DepartmentRow(
        group,
        protection.cell(figures["received_listed"], group.key),
        protection.cell(share(figures["givers_listed"], group.size), group.key),
        protection.cell(share(figures["receivers_listed"], group.size), group.key),
        protection.cell(share(figures["cross_listed"], figures["received_listed"]), group.key),
    )


def _matrix(
    session: Session,
    scope: InsightScope,
    kind: str,
    bucket: Bucket,
    groups: list[Group],
    unit_of: dict[int, int],
    size: int,
    k: int,
) -> Matrix | None:
    names = {g.key: g for g in groups}
    unit_sizes: dict[int, int] = defaultdict(int)
    for g in groups:
        unit_sizes[unit_of.get(g.key, g.key)] += g.size
    order = list(dict.fromkeys(unit_of.get(g.key, g.key) for g in groups))
    if len(order) < 2:
        return None
    depts = {d.id: d for d in session.exec(select(Department).where(col(Department.id).in_(order)))}
    units = tuple(
        Group(
            key,
            depts[key].name if key in depts else names.get(key, Group(key, "", 0, 0)).name,
            0,
            unit_sizes[key],
        )
        for key in order
    )
    protection = protect(size, {u.key: u.size for u in units}, k)
    flows: dict[tuple[int, int], int] = defaultdict(int)
    for giver, recipient, n in _pair_rows(session, scope, kind, bucket.start):
        flows[(unit_of.get(giver, giver), unit_of.get(recipient, recipient))] += n
    cells = tuple(
        tuple(
            protection.pair(flows[(row.key, column.key)], row.key, column.key) for column in units
        )
        for row in units
    )
    return Matrix(units, cells)


def rarely_seen_count(session: Session, scope: InsightScope, today: date) -> int:
    return len(rarely_seen(session, scope, today))


def rarely_seen(session: Session, scope: InsightScope, today: date) -> list[Person]:
    """Active people of the leader's own units not recognised in the last 30 days, by name
    (alphabetical, never ranked)."""
    if not scope.rarely_seen:
        return []
    since = today - timedelta(days=RARELY_SEEN_DAYS - 1)
    seen = select(A.person_id).where(A.org_id == scope.org.id, A.role == "r", A.day >= since)
    return list(
        session.exec(
            select(Person)
            .where(
                Person.org_id == scope.org.id,
                col(Person.active).is_(True),
                col(Person.department_id).in_(sorted(scope.rarely_seen)),
                Person.id != scope.viewer.id,
                col(Person.id).not_in(seen),
            )
            .order_by(col(Person.name), col(Person.id))
        ).all()
    )


def own_figures(session: Session, person: Person, period: Period) -> dict[str, list[int]]:
    """How many recognitions a person gave and received per bucket (their own, for "Meg")."""
    tz = org_zone(person.org)
    starts = [day_start(b.start, tz) for b in period.buckets]
    end = day_start(period.end, tz)
    counts: dict[str, list[int]] = {"given": [], "received": []}
    given = select(func.count()).where(
        Recognition.giver_id == person.id, col(Recognition.hidden_by_curator).is_(False)
    )
    received = (
        select(func.count())
        .select_from(RecognitionRecipient)
        .join(Recognition, col(Recognition.id) == RecognitionRecipient.recognition_id)
        .where(
            RecognitionRecipient.person_id == person.id,
            col(Recognition.hidden_by_curator).is_(False),
        )
    )
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else end
        window = (col(Recognition.created_at) >= start, col(Recognition.created_at) < stop)
        counts["given"].append(int(session.exec(given.where(*window)).one()))
        counts["received"].append(int(session.exec(received.where(*window)).one()))
    return counts
