"""Keeping the insight aggregates equal to the recognitions they are made of.

The recognition feature does not know insights exist (it is a layer below). Instead this
module listens to every ORM session: before a flush it notes the (organisation, local day)
of each recognition, recipient row or value link being added, changed or deleted, and of each
person whose department or activity changed; after the flush, still inside the same
transaction, it rebuilds exactly those days from the recognitions. A rollback therefore rolls
the aggregates back with the change, and no process can write a recognition without the
listener (`app.models`, which every process imports, imports `app.insights`).

What the ORM cannot see (bulk `UPDATE`/`DELETE` statements, rows removed by the database's
own `ON DELETE CASCADE` when a person is erased) is the caller's to report with
`refresh_days(session, org_id, days)`, or `refresh_org` to rebuild an organisation.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    distinct,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction, aliased
from sqlmodel import Session, col

from app.insights.models import (
    ANY_DEPARTMENT,
    ANY_VALUE,
    NO_DEPARTMENT,
    InsightActivity,
    InsightCount,
    InsightPeriod,
    InsightPeriodPair,
    InsightPeriodValue,
)
from app.insights.periods import Granularity, floor, next_start
from app.orgs.models import Organisation, Person
from app.recognition.models import Recognition, RecognitionRecipient, RecognitionValue

_PENDING = "insights_pending_days"
_PEOPLE = "insights_pending_people"
_ZONES = "insights_pending_zones"
CHUNK_DAYS = 31  # days rebuilt with one query when a whole organisation is rebuilt


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day in the organisation's time zone on which `moment` (UTC) falls."""
    return moment.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which a local day begins (23 or 25 hours long across DST)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def org_zone(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.timezone or "Europe/Oslo")


# --- rebuilding --------------------------------------------------------------------------


# The first key of the advisory lock that serialises an organisation's rebuilds on PostgreSQL.
ADVISORY_LOCK_SPACE = 0x1A51


def _rebuild(conn: Connection, org_id: int, tz: ZoneInfo, days: set[date]) -> None:
    """Replace the aggregate rows of `days`, and of the weeks, months and quarters they fall
    in, by what the recognitions say now."""
    if not days:
        return
    if conn.dialect.name == "postgresql":
        # Two transactions rebuilding the same organisation's rows at once would both delete
        # and then both insert the same keys: one rebuild at a time per organisation, until
        # the commit (SQLite has one writer anyway). Each statement then reads what the
        # other committed, so no recognition is left out.
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, :org)"),
            {"space": ADVISORY_LOCK_SPACE, "org": org_id},
        )
    counts, activity = InsightCount.__table__, InsightActivity.__table__  # type: ignore[attr-defined]
    ordered = sorted(days)
    for chunk_start in range(0, len(ordered), CHUNK_DAYS):
        chunk = ordered[chunk_start : chunk_start + CHUNK_DAYS]
        # The departments whose periods change: those of the rows going and of those coming.
        touched = _departments(conn, org_id, chunk)
        for table in (counts, activity):
            conn.execute(delete(table).where(table.c.org_id == org_id, table.c.day.in_(chunk)))
        count_rows, activity_rows = _compute(conn, org_id, tz, set(chunk))
        if count_rows:
            conn.execute(insert(counts), count_rows)
        if activity_rows:
            conn.execute(insert(activity), activity_rows)
        touched |= {r["recipient_dept"] for r in count_rows} | {a["dept_id"] for a in activity_rows}
        if touched:
            rollup(conn, org_id, chunk, touched)


def _departments(conn: Connection, org_id: int, days: list[date]) -> set[int]:
    counts, activity = InsightCount.__table__, InsightActivity.__table__  # type: ignore[attr-defined]
    found = set(
        conn.execute(
            select(counts.c.recipient_dept)
            .where(counts.c.org_id == org_id, counts.c.day.in_(days))
            .distinct()
        ).scalars()
    )
    found |= set(
        conn.execute(
            select(activity.c.dept_id)
            .where(activity.c.org_id == org_id, activity.c.day.in_(days))
            .distinct()
        ).scalars()
    )
    return found


KINDS = {"w": Granularity.week, "m": Granularity.month, "q": Granularity.quarter}
KIND_OF = {g: k for k, g in KINDS.items()}


def rollup(conn: Connection, org_id: int, days: Iterable[date], depts: set[int]) -> None:
    """Rebuild the week, month and quarter rows of these departments around these days."""
    counts, activity = InsightCount.__table__, InsightActivity.__table__  # type: ignore[attr-defined]
    periods = InsightPeriod.__table__  # type: ignore[attr-defined]
    per_value = InsightPeriodValue.__table__  # type: ignore[attr-defined]
    pairs = InsightPeriodPair.__table__  # type: ignore[attr-defined]
    dept_list = sorted(depts)
    for kind, gran in KINDS.items():
        for start in sorted({floor(d, gran) for d in days}):
            end = next_start(start, gran)
            key = {"org_id": org_id, "kind": kind, "start": start}
            conn.execute(
                delete(periods).where(
                    periods.c.org_id == org_id,
                    periods.c.kind == kind,
                    periods.c.start == start,
                    periods.c.dept_id.in_(dept_list),
                )
            )
            conn.execute(
                delete(per_value).where(
                    per_value.c.org_id == org_id,
                    per_value.c.kind == kind,
                    per_value.c.start == start,
                    per_value.c.dept_id.in_(dept_list),
                )
            )
            conn.execute(
                delete(pairs).where(
                    pairs.c.org_id == org_id,
                    pairs.c.kind == kind,
                    pairs.c.start == start,
                    pairs.c.recipient_dept.in_(dept_list),
                )
            )
            span = and_(
                counts.c.org_id == org_id,
                counts.c.recipient_dept.in_(dept_list),
                counts.c.day >= start,
                counts.c.day < end,
            )
            rows: dict[int, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(_PERIOD_FIGURES, 0))
            for dept, listed, cross, n in conn.execute(
                select(
                    counts.c.recipient_dept,
                    counts.c.listed,
                    counts.c.giver_dept != counts.c.recipient_dept,
                    func.sum(counts.c.n),
                )
                .where(span, counts.c.value_id == ANY_VALUE)
                .group_by(
                    counts.c.recipient_dept,
                    counts.c.listed,
                    counts.c.giver_dept != counts.c.recipient_dept,
                )
            ):
                row = rows[dept]
                row["received"] += n
                if listed:
                    row["received_listed"] += n
                    row["cross_listed"] += n if cross else 0
            listed_person = case((activity.c.listed, activity.c.person_id))
            for dept, role, people, people_listed in conn.execute(
                select(
                    activity.c.dept_id,
                    activity.c.role,
                    func.count(distinct(activity.c.person_id)),
                    func.count(distinct(listed_person)),
                )
                .where(
                    activity.c.org_id == org_id,
                    activity.c.dept_id.in_(dept_list),
                    activity.c.day >= start,
                    activity.c.day < end,
                )
                .group_by(activity.c.dept_id, activity.c.role)
            ):
                name = "givers" if role == "g" else "receivers"
                rows[dept][name] = people
                rows[dept][f"{name}_listed"] = people_listed
            if rows:
                conn.execute(
                    insert(periods),
                    [{**key, "dept_id": d, **figures} for d, figures in rows.items()],
                )
            value_rows = [
                {**key, "dept_id": dept, "value_id": value_id, "n": n}
                for dept, value_id, n in conn.execute(
                    select(counts.c.recipient_dept, counts.c.value_id, func.sum(counts.c.n))
                    .where(span, counts.c.value_id != ANY_VALUE, counts.c.listed.is_(True))
                    .group_by(counts.c.recipient_dept, counts.c.value_id)
                )
            ]
            if value_rows:
                conn.execute(insert(per_value), value_rows)
            pair_rows = [
                {**key, "recipient_dept": r, "giver_dept": g, "n": n}
                for r, g, n in conn.execute(
                    select(counts.c.recipient_dept, counts.c.giver_dept, func.sum(counts.c.n))
                    .where(span, counts.c.value_id == ANY_VALUE, counts.c.listed.is_(True))
                    .group_by(counts.c.recipient_dept, counts.c.giver_dept)
                )
            ]
            if pair_rows:
                conn.execute(insert(pairs), pair_rows)


_PERIOD_FIGURES = (
    "received",
    "received_listed",
    "cross_listed",
    "givers",
    "receivers",
    "givers_listed",
    "receivers_listed",
)


def _compute(
    conn: Connection, org_id: int, tz: ZoneInfo, days: set[date]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    start, end = day_start(min(days), tz), day_start(max(days) + timedelta(days=1), tz)
    rec, giver, recipient = Recognition.__table__, aliased(Person), aliased(Person)  # type: ignore[attr-defined]
    window = and_(
        rec.c.org_id == org_id,
        rec.c.created_at >= start,
        rec.c.created_at < end,
        rec.c.hidden_by_curator.is_(False),  # a curator took it away: it counts nowhere
    )
    rows = conn.execute(
        select(  # type: ignore[call-overload]
            rec.c.id,
            rec.c.created_at,
            rec.c.listed,
            rec.c.giver_id,
            giver.department_id,
            giver.active,
            col(RecognitionRecipient.person_id),
            recipient.department_id,
            recipient.active,
        )
        .select_from(rec)
        .join(giver, giver.id == rec.c.giver_id)
        .join(RecognitionRecipient, col(RecognitionRecipient.recognition_id) == rec.c.id)
        .join(recipient, recipient.id == RecognitionRecipient.person_id)
        .where(window)
    ).all()
    values: dict[int, list[int]] = defaultdict(list)
    for rec_id, value_id in conn.execute(
        select(col(RecognitionValue.recognition_id), col(RecognitionValue.value_id))
        .join(rec, rec.c.id == RecognitionValue.recognition_id)
        .where(window)
    ):
        if rec_id is not None and value_id is not None:
            values[rec_id].append(value_id)

    # One recognition counts once per receiving department, per value and under ANY_VALUE.
    pairs: dict[tuple[int, date, int, int, bool], None] = {}
    people: dict[tuple[date, int, str], tuple[int, bool]] = {}
    for (
        rec_id,
        created,
        listed,
        giver_id,
        giver_dept,
        giver_active,
        person_id,
        person_dept,
        person_active,
    ) in rows:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        day = local_day(created, tz)
        if day not in days:
            continue
        g_dept, r_dept = giver_dept or NO_DEPARTMENT, person_dept or NO_DEPARTMENT
        pairs[(rec_id, day, g_dept, r_dept, bool(listed))] = None
        # Participation is about the people who work here now: a person who left drops out.
        for key, dept, active in (
            ((day, giver_id, "g"), g_dept, giver_active),
            ((day, person_id, "r"), r_dept, person_active),
        ):
            if not active:
                continue
            seen = people.get(key)
            people[key] = (dept, bool(listed) or (seen is not None and seen[1]))
    totals: dict[tuple[date, int, int, int, bool], int] = defaultdict(int)
    for rec_id, day, g_dept, r_dept, listed in pairs:
        totals[(day, g_dept, r_dept, ANY_VALUE, listed)] += 1
        # Per value only the receiving department matters: fewer rows to read.
        for value_id in values.get(rec_id, []):
            totals[(day, ANY_DEPARTMENT, r_dept, value_id, listed)] += 1
    count_rows = [
        {
            "org_id": org_id,
            "day": day,
            "giver_dept": g,
            "recipient_dept": r,
            "value_id": v,
            "listed": listed,
            "n": n,
        }
        for (day, g, r, v, listed), n in totals.items()
    ]
    activity_rows = [
        {
            "org_id": org_id,
            "day": day,
            "person_id": person_id,
            "role": role,
            "dept_id": dept,
            "listed": listed,
        }
        for (day, person_id, role), (dept, listed) in people.items()
    ]
    return count_rows, activity_rows


def refresh_days(session: Session, org_id: int, days: Iterable[date]) -> None:
    """Rebuild the aggregates of these local days of an organisation, in the session's
    transaction. For changes the ORM does not see: bulk statements and erasure."""
    session.flush()
    org = session.get(Organisation, org_id)
    if org is None:
        return
    _rebuild(session.connection(), org_id, org_zone(org), set(days))


def days_of(
    session: Session, org_id: int, moments: Iterable[datetime] = (), person_ids: Iterable[int] = ()
) -> set[date]:
    """The local days of these instants, and every day on which these people were active:
    what to pass to `refresh_days` after erasing people or deleting their recognitions
    (call it before the delete, while the aggregates still name the days)."""
    org = session.get(Organisation, org_id)
    if org is None:
        return set()
    tz = org_zone(org)
    found = {local_day(m, tz) for m in moments}
    ids = list(person_ids)
    if ids:
        found |= {_as_day(m, tz) for m in _person_moments(session.connection(), ids)}
    return found


def refresh_org(session: Session, org_id: int) -> int:
    """Rebuild every day of an organisation from its first recognition to its last."""
    session.flush()
    return _rebuild_org(session.connection(), org_id)


def _rebuild_org(conn: Connection, org_id: int) -> int:
    orgs, rec = Organisation.__table__, Recognition.__table__  # type: ignore[attr-defined]
    tz_name = conn.execute(select(orgs.c.timezone).where(orgs.c.id == org_id)).scalar()
    if tz_name is None:
        return 0
    tz = ZoneInfo(tz_name)
    first, last = conn.execute(
        select(func.min(rec.c.created_at), func.max(rec.c.created_at)).where(rec.c.org_id == org_id)
    ).one()
    for model in (
        InsightCount,
        InsightActivity,
        InsightPeriod,
        InsightPeriodValue,
        InsightPeriodPair,
    ):
        table = model.__table__  # type: ignore[union-attr]
        conn.execute(delete(table).where(table.c.org_id == org_id))
    if first is None:
        return 0
    day, end = _as_day(first, tz), _as_day(last, tz)
    all_days = set()
    while day <= end:
        all_days.add(day)
        day += timedelta(days=1)
    _rebuild(conn, org_id, tz, all_days)
    return len(all_days)


def _as_day(moment: datetime, tz: ZoneInfo) -> date:
    """A stored instant (naive UTC when read with Core) as a local day."""
    return local_day(moment if moment.tzinfo else moment.replace(tzinfo=UTC), tz)


def _person_moments(conn: Connection, person_ids: list[int]) -> set[datetime]:
    """When these people gave or received a recognition (their days to rebuild)."""
    rec = Recognition.__table__  # type: ignore[attr-defined]
    recipients = RecognitionRecipient.__table__  # type: ignore[attr-defined]
    given = select(rec.c.created_at).where(rec.c.giver_id.in_(person_ids))
    received = (
        select(rec.c.created_at)
        .join(recipients, recipients.c.recognition_id == rec.c.id)
        .where(recipients.c.person_id.in_(person_ids))
    )
    return set(conn.execute(given).scalars()) | set(conn.execute(received).scalars())


# --- the session listener -------------------------------------------------------------------


def _recognition_of(session: OrmSession, obj: Any) -> Recognition | None:
    if isinstance(obj, Recognition):
        return obj
    rec = obj.recognition if "recognition" in obj.__dict__ else None
    if rec is None and obj.recognition_id is not None:
        rec = session.get(Recognition, obj.recognition_id)
    return rec


def _note(session: OrmSession, rec: Recognition) -> None:
    org_id = rec.org_id if rec.org_id is not None else (rec.org.id if rec.org else None)
    if org_id is None or rec.created_at is None:
        return
    session.info.setdefault(_PENDING, set()).add((org_id, rec.created_at))


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session: OrmSession, _ctx: UOWTransaction, _instances: Any) -> None:
    with session.no_autoflush:
        for obj in [*session.new, *session.dirty, *session.deleted]:
            if isinstance(obj, Recognition | RecognitionRecipient | RecognitionValue):
                rec = _recognition_of(session, obj)
                if rec is not None:
                    _note(session, rec)
            elif _moved(session, obj, Person, "department_id") or _moved(
                session, obj, Person, "active"
            ):
                session.info.setdefault(_PEOPLE, set()).add((obj.org_id, obj.id))
            elif _moved(session, obj, Organisation, "timezone"):
                # Every local day moves: the whole organisation is rebuilt.
                session.info.setdefault(_ZONES, set()).add(obj.id)


def _moved(session: OrmSession, obj: Any, model: type, attribute: str) -> bool:
    """A row of `model` already stored whose `attribute` changes in this flush."""
    return (
        isinstance(obj, model)
        and obj in session.dirty
        and getattr(obj, "id", None) is not None
        and bool(inspect(obj).attrs[attribute].history.has_changes())
    )


@event.listens_for(OrmSession, "after_flush")
def _after_flush(session: OrmSession, _ctx: UOWTransaction) -> None:
    moments: set[tuple[int, datetime]] = session.info.pop(_PENDING, set())
    people: set[tuple[int, int]] = session.info.pop(_PEOPLE, set())
    zones: set[int] = session.info.pop(_ZONES, set())
    if not moments and not people and not zones:
        return
    conn = session.connection()
    by_org: dict[int, set[datetime]] = defaultdict(set)
    for org_id, moment in moments:
        by_org[org_id].add(moment)
    people_by_org: dict[int, list[int]] = defaultdict(list)
    for org_id, person_id in people:
        people_by_org[org_id].append(person_id)
    for org_id in set(by_org) | set(people_by_org):
        tz_name = conn.execute(
            select(Organisation.__table__.c.timezone).where(  # type: ignore[attr-defined]
                Organisation.__table__.c.id == org_id  # type: ignore[attr-defined]
            )
        ).scalar()
        if tz_name is None:
            continue  # the organisation itself is being deleted: its rows go with it
        tz = ZoneInfo(tz_name)
        days = {_as_day(m, tz) for m in by_org[org_id]}
        if people_by_org[org_id]:
            days |= {_as_day(m, tz) for m in _person_moments(conn, people_by_org[org_id])}
        _rebuild(conn, org_id, tz, days)
    for org_id in zones:
        _rebuild_org(conn, org_id)
