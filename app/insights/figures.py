"""The figures of insights, read from the maintained aggregates and passed through
`suppress.protect` before anything can show them."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, literal
from sqlmodel import Session, col, select

from app.insights.maintain import day_start, local_day, org_zone
from app.insights.models import ANY_DEPARTMENT, ANY_VALUE, NO_DEPARTMENT, InsightActivity
from app.insights.models import InsightCount as C
from app.insights.periods import Bucket, Period
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
        select(Person.department_id, func.count())  # type: ignore[call-overload]
        .where(Person.org_id == org_id, col(Person.active).is_(True))
        .group_by(Person.department_id)
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
        current = dept_id
        while current not in top and parent.get(current) in in_scope:
            current = parent[current]  # type: ignore[assignment]
        unit[dept_id] = current  # type: ignore[index]
    unit[NO_DEPARTMENT] = NO_DEPARTMENT
    return unit


# --- queries on the aggregates --------------------------------------------------------------


def _bucket_of(column: Any, buckets: Sequence[Bucket]) -> Any:
    if len(buckets) == 1:
        return literal(0)
    return case(*[(column < b.end, i) for i, b in enumerate(buckets[:-1])], else_=len(buckets) - 1)


def _in_scope(column: Any, scope: InsightScope) -> ColumnElement[bool]:
    return literal(True) if scope.whole_org else column.in_(sorted(scope.departments))


def _counts(session: Session, scope: InsightScope, buckets: Sequence[Bucket]) -> list[Any]:
    """(bucket, receiving department, from another department, listed, recognitions)."""
    bucket = _bucket_of(C.day, buckets).label("bucket")
    cross = (col(C.giver_dept) != col(C.recipient_dept)).label("cross")
    return list(
        session.exec(
            select(bucket, C.recipient_dept, cross, C.listed, func.sum(C.n))  # type: ignore[call-overload]
            .where(
                C.org_id == scope.org.id,
                C.day >= buckets[0].start,
                C.day < buckets[-1].end,
                C.value_id == ANY_VALUE,
                _in_scope(col(C.recipient_dept), scope),
            )
            .group_by(bucket, C.recipient_dept, cross, C.listed)
        ).all()
    )


def _value_counts(session: Session, scope: InsightScope, buckets: Sequence[Bucket]) -> list[Any]:
    bucket = _bucket_of(C.day, buckets).label("bucket")
    return list(
        session.exec(
            select(bucket, C.value_id, func.sum(C.n))  # type: ignore[call-overload]
            .where(
                C.org_id == scope.org.id,
                C.day >= buckets[0].start,
                C.day < buckets[-1].end,
                C.value_id != ANY_VALUE,
                C.giver_dept == ANY_DEPARTMENT,
                col(C.listed).is_(True),  # private recognitions count in totals only
                _in_scope(col(C.recipient_dept), scope),
            )
            .group_by(bucket, C.value_id)
        ).all()
    )


def _pairs(session: Session, scope: InsightScope, period: Period) -> list[Any]:
    return list(
        session.exec(
            select(C.giver_dept, C.recipient_dept, func.sum(C.n))  # type: ignore[call-overload]
            .where(
                C.org_id == scope.org.id,
                C.day >= period.start,
                C.day < period.end,
                C.value_id == ANY_VALUE,
                col(C.listed).is_(True),
                _in_scope(col(C.recipient_dept), scope),
                _in_scope(col(C.giver_dept), scope),
            )
            .group_by(C.giver_dept, C.recipient_dept)
        ).all()
    )


def _active(session: Session, scope: InsightScope, start: date, end: date) -> Any:
    """Activity of people who are still active, in scope, between two local days."""
    return and_(
        A.org_id == scope.org.id,
        A.day >= start,
        A.day < end,
        _in_scope(col(A.dept_id), scope),
        col(A.person_id).in_(
            select(col(Person.id)).where(Person.org_id == scope.org.id, col(Person.active))
        ),
    )


def _participants(session: Session, scope: InsightScope, buckets: Sequence[Bucket]) -> list[Any]:
    """(bucket, role, distinct people)."""
    bucket = _bucket_of(A.day, buckets).label("bucket")
    return list(
        session.exec(
            select(bucket, A.role, func.count(distinct(A.person_id)))  # type: ignore[call-overload]
            .where(_active(session, scope, buckets[0].start, buckets[-1].end))
            .group_by(bucket, A.role)
        ).all()
    )


def _participants_by_department(session: Session, scope: InsightScope, period: Period) -> list[Any]:
    return list(
        session.exec(
            select(A.dept_id, A.role, func.count(distinct(A.person_id)))  # type: ignore[call-overload]
            .where(_active(session, scope, period.start, period.end), col(A.listed).is_(True))
            .group_by(A.dept_id, A.role)
        ).all()
    )


def _reached(session: Session, scope: InsightScope, today: date, days: int) -> int:
    start = today - timedelta(days=days - 1)
    return int(
        session.exec(
            select(func.count(distinct(A.person_id))).where(  # type: ignore[call-overload]
                _active(session, scope, start, today + timedelta(days=1)), A.role == "r"
            )
        ).one()
    )


# --- putting it together ------------------------------------------------------------------


def _summary(
    session: Session, scope: InsightScope, period: Period, size: int
) -> dict[str, float | None]:
    """Whole-period figures for comparisons: per week, and shares in per cent."""
    whole = (Bucket(period.start, period.end, period.by),)
    total = listed = cross = 0
    for _b, _dept, is_cross, is_listed, n in _counts(session, scope, whole):
        total += n
        if is_listed:
            listed += n
            cross += n if is_cross else 0
    people = {role: n for _b, role, n in _participants(session, scope, whole)}
    weeks = max((period.end - period.start).days, 1) / 7
    return {
        "per_week": round(total / weeks, 1),
        "gave": share(people.get("g", 0), size),
        "received": share(people.get("r", 0), size),
        "cross_unit": share(cross, listed),
    }


def insights(session: Session, scope: InsightScope, period: Period, now: datetime) -> Insights:
    """Every figure of the insights page for `scope` over `period`, suppression applied."""
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
    baseline = (
        (org.insight_baseline_start, org.insight_baseline_end)
        if org.insight_baseline_start and org.insight_baseline_end
        else None
    )
    result.baseline = baseline
    buckets = period.buckets
    n_buckets = len(buckets)

    total = [0] * n_buckets
    listed = [0] * n_buckets
    cross = [0] * n_buckets
    by_dept: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # listed, from elsewhere
    for b, dept, is_cross, is_listed, n in _counts(session, scope, buckets):
        total[b] += n
        if is_listed:
            listed[b] += n
            cross[b] += n if is_cross else 0
            by_dept[dept][0] += n
            by_dept[dept][1] += n if is_cross else 0
    people = defaultdict(lambda: [0] * n_buckets)
    for b, role, n in _participants(session, scope, buckets):
        people[role][b] = n
    result.recognitions = tuple(protection.cell(v) for v in total)
    result.gave = tuple(protection.cell(share(v, size)) for v in people["g"])
    result.received = tuple(protection.cell(share(v, size)) for v in people["r"])
    result.cross_unit = tuple(
        protection.cell(share(c, n)) for c, n in zip(cross, listed, strict=True)
    )

    values = session.exec(
        select(Value).where(Value.org_id == org.id).order_by(col(Value.position), col(Value.id))
    ).all()
    per_value: dict[int, list[int]] = defaultdict(lambda: [0] * n_buckets)
    for b, value_id, n in _value_counts(session, scope, buckets):
        per_value[value_id][b] = n
    result.values = tuple(
        Series(str(v.id), v.name, v.colour, tuple(protection.cell(n) for n in per_value[v.id]))  # type: ignore[index]
        for v in values
        if v.active or v.id in per_value
    )

    dept_people: dict[int, dict[str, int]] = defaultdict(dict)
    for dept, role, n in _participants_by_department(session, scope, period):
        dept_people[dept][role] = n
    result.departments = tuple(
        DepartmentRow(
            g,
            protection.cell(by_dept[g.key][0], g.key),
            protection.cell(share(dept_people[g.key].get("g", 0), g.size), g.key),
            protection.cell(share(dept_people[g.key].get("r", 0), g.size), g.key),
            protection.cell(share(by_dept[g.key][1], by_dept[g.key][0]), g.key),
        )
        for g in groups
    )
    result.matrix = _matrix(session, scope, period, groups, unit_of, size, k)
    if result.matrix is not None:
        result.units = _unit_rows(result.matrix, groups, unit_of, by_dept, dept_people, size, k)
    result.reach = {
        days: protection.cell(share(_reached(session, scope, today, days), size))
        for days in REACH_DAYS
    }
    result.comparisons = _comparisons(session, scope, period, baseline, size, protection)
    return result


def _matrix(
    session: Session,
    scope: InsightScope,
    period: Period,
    groups: list[Group],
    unit_of: dict[int, int],
    size: int,
    k: int,
) -> Matrix | None:
    names = {g.key: g for g in groups}
    unit_sizes: dict[int, int] = defaultdict(int)
    for g in groups:
        unit_sizes[unit_of.get(g.key, g.key)] += g.size
    order = [key for key in dict.fromkeys(unit_of.get(g.key, g.key) for g in groups)]
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
    for giver, recipient, n in _pairs(session, scope, period):
        flows[(unit_of.get(giver, giver), unit_of.get(recipient, recipient))] += n
    cells = tuple(
        tuple(
            protection.pair(flows[(row.key, column.key)], row.key, column.key) for column in units
        )
        for row in units
    )
    return Matrix(units, cells)


def _unit_rows(
    matrix: Matrix,
    groups: list[Group],
    unit_of: dict[int, int],
    by_dept: dict[int, list[int]],
    dept_people: dict[int, dict[str, int]],
    size: int,
    k: int,
) -> tuple[DepartmentRow, ...]:
    """Departments summed into the matrix's units (each person-day has one department, so
    distinct people add up)."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # listed, cross, gave, got
    for g in groups:
        unit = sums[unit_of.get(g.key, g.key)]
        unit[0] += by_dept[g.key][0]
        unit[1] += by_dept[g.key][1]
        unit[2] += dept_people[g.key].get("g", 0)
        unit[3] += dept_people[g.key].get("r", 0)
    protection = protect(size, {u.key: u.size for u in matrix.units}, k)
    return tuple(
        DepartmentRow(
            u,
            protection.cell(sums[u.key][0], u.key),
            protection.cell(share(sums[u.key][2], u.size), u.key),
            protection.cell(share(sums[u.key][3], u.size), u.key),
            protection.cell(share(sums[u.key][1], sums[u.key][0]), u.key),
        )
        for u in matrix.units
    )


def _comparisons(
    session: Session,
    scope: InsightScope,
    period: Period,
    baseline: tuple[date, date] | None,
    size: int,
    protection: Protection,
) -> tuple[Comparison, ...]:
    now = _summary(session, scope, period, size)
    before = _summary(session, scope, period.previous(), size)
    base = None
    if baseline:  # the marked days exactly, not stretched to whole buckets
        exact = Bucket(baseline[0], baseline[1] + timedelta(days=1), period.by)
        base = _summary(session, scope, Period(period.by, (exact,)), size)
    return tuple(
        Comparison(
            key,
            protection.cell(now[key]),
            protection.cell(before[key]),
            protection.cell(base[key]) if base is not None else None,
        )
        for key in ("per_week", "gave", "received", "cross_unit")
    )


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
    given = select(func.count()).where(  # type: ignore[call-overload]
        Recognition.giver_id == person.id, col(Recognition.hidden_by_curator).is_(False)
    )
    received = (
        select(func.count())  # type: ignore[call-overload]
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
