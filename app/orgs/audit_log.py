"""An organisation's audit log, as its admins read it: filtered by who, what and when, on a
page or as CSV."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.errors import N_, Invalid, Problem
from app.kernel.audit import AuditEvent
from app.kernel.paging import Page, paginate
from app.kernel.spreadsheet import BOM, csv_line
from app.orgs.models import Organisation, Person

# What each action is called in the log (translated on render). Unknown codes show as codes.
ACTIONS: dict[str, str] = {
    "org.create": N_("Organisation created"),
    "org.settings": N_("Settings changed"),
    "value.add": N_("Value added"),
    "value.update": N_("Value changed"),
    "value.move": N_("Value moved"),
    "value.activate": N_("Value activated"),
    "value.deactivate": N_("Value deactivated"),
    "department.add": N_("Department added"),
    "department.update": N_("Department changed"),
    "department.delete": N_("Department deleted"),
    "person.add": N_("Person added"),
    "person.update": N_("Person changed"),
    "person.activate": N_("Person activated"),
    "person.deactivate": N_("Person deactivated"),
    "person.export": N_("A person's data exported"),
    "person.erase": N_("A person erased"),
    "privacy.settings": N_("Privacy settings changed"),
    "people.import": N_("People imported"),
    "token.create": N_("API token created"),
    "token.revoke": N_("API token revoked"),
    "webhook.add": N_("Webhook added"),
    "webhook.activate": N_("Webhook turned on"),
    "webhook.deactivate": N_("Webhook turned off"),
    "webhook.delete": N_("Webhook deleted"),
    "webhook.test": N_("Webhook tested"),
    "webhook.retry": N_("Webhook delivery retried"),
    "feature.draft": N_("Weekly feature drafted"),
    "feature.edit": N_("Weekly feature edited"),
    "feature.photo": N_("Weekly feature's photo chosen"),
    "feature.approve": N_("Weekly feature approved"),
    "feature.publish": N_("Weekly feature published"),
    "feature.withdraw": N_("Weekly feature withdrawn"),
    "feature.consent": N_("Consent answered"),
    "feature.ask_again": N_("Consent asked again"),
    "feature.alert": N_("Curators alerted"),
    "recognition.hide": N_("Recognition hidden by a curator"),
    "recognition.unhide": N_("Recognition shown again by a curator"),
    "contest.create": N_("Competition created"),
    "contest.update": N_("Competition changed"),
    "contest.close_submissions": N_("Competition: submissions closed"),
    "contest.open_voting": N_("Competition: voting opened"),
    "contest.close_voting": N_("Competition: voting closed"),
    "contest.entry_approve": N_("Competition entry approved"),
    "contest.entry_reject": N_("Competition entry rejected"),
    "contest.jury": N_("Competition winners chosen by the jury"),
    "contest.results": N_("Competition results announced"),
    "contest.photos_deleted": N_("Competition photos deleted (retention)"),
}
MAX_DAYS = 3660


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None  # 0: the system (jobs, the CLI)
    action: str = ""
    since: date | None = None  # first day, in the organisation's zone
    until: date | None = None  # last day, included

    def params(self) -> dict[str, str]:
        """As query parameters (the pager and the CSV link keep the filter)."""
        values = {
            "actor": "" if self.actor_id is None else str(self.actor_id),
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def _day(text: str, field: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(
            {field: Problem("invalid", N_("Write a date as YYYY-MM-DD, or leave it empty."))}
        ) from None


def parse_filter(actor: str, action: str, since: str, until: str) -> AuditFilter:
    """Invalid ("since", "until", "actor") for what cannot be a filter."""
    actor = actor.strip()
    if actor and not actor.isdigit():
        raise Invalid({"actor": Problem("invalid", N_("Choose one of the options."))})
    first, last = _day(since, "since"), _day(until, "until")
    if first and last and first > last:
        raise Invalid({"until": Problem("order", N_("The last day comes before the first."))})
    return AuditFilter(
        actor_id=int(actor) if actor else None,
        action=action.strip() if action.strip() in ACTIONS else "",
        since=first,
        until=last,
    )


def _statement(org: Organisation, f: AuditFilter) -> SelectOfScalar[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.org_id == org.id)
    if f.actor_id == 0:
        stmt = stmt.where(col(AuditEvent.actor_id).is_(None))
    elif f.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    tz = ZoneInfo(org.timezone)
    if f.since:
        start = datetime.combine(f.since, time(), tzinfo=tz).astimezone(UTC)
        stmt = stmt.where(col(AuditEvent.created_at) >= start)
    if f.until:
        end = datetime.combine(f.until + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
        stmt = stmt.where(col(AuditEvent.created_at) < end)
    return stmt.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())


def audit_page(
    session: Session, org: Organisation, page: int = 1, f: AuditFilter | None = None
) -> Page[AuditEvent]:
    """The organisation's audit events, newest first."""
    return paginate(session, _statement(org, f or AuditFilter()), page)


def actor_names(session: Session, events: Iterable[AuditEvent]) -> dict[int, str]:
    """The names of the people behind some audit events, by person id."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(Person.id, Person.name).where(col(Person.id).in_(ids)))
    return {pid: name for pid, name in rows if pid is not None}


def actor_choices(session: Session, org: Organisation) -> list[tuple[int, str]]:
    """Everyone who appears in the log as an actor, by name."""
    acting = select(AuditEvent.actor_id).where(AuditEvent.org_id == org.id).distinct()
    rows = session.exec(
        select(Person.id, Person.name)
        .where(Person.org_id == org.id, col(Person.id).in_(acting))
        .order_by(col(Person.name))
    )
    return [(pid, name) for pid, name in rows if pid is not None]


def audit_csv(
    session: Session,
    org: Organisation,
    f: AuditFilter,
    *,
    label: Callable[[str], str],
    header: list[str],
    system: str,
) -> Iterator[str]:
    """The filtered log as CSV lines (BOM first), read in batches so a long log streams."""
    tz = ZoneInfo(org.timezone)
    yield BOM + csv_line(header)
    names: dict[int, str] = {}
    stmt = _statement(org, f).execution_options(yield_per=500)
    for event in session.exec(stmt):
        if event.actor_id is not None and event.actor_id not in names:
            names.update(actor_names(session, [event]))
        code = event.action
        yield csv_line(
            [
                event.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                names.get(event.actor_id, "") if event.actor_id is not None else system,
                code,
                label(ACTIONS[code]) if code in ACTIONS else code,
                event.target,
            ]
        )
