"""The baton: starting a relay, passing it on, handing it back, re-handing it, closing a relay.

Every rule is checked before anything is written. Handing the baton over is a conditional
UPDATE of the current leg (`WHERE status = 'holding'`) and a partial unique index allows one
holder per relay, so a double tap or two racing requests pass it once. Plain functions over a
session; they never commit.
"""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line, clean_text
from app.kernel.scope import in_org
from app.orgs.models import Organisation, Person, Role
from app.stories.models import Leg, LegStatus, MailKind, Relay, StoryMail

TITLE_MAX = 120
REASON_MAX = 300

CLOSED = Problem("closed", N_("This relay is closed."))
NOT_HOLDING = Problem("not_holding", N_("You do not hold the baton in this relay."))
NOT_LEADER = Problem("not_leader", N_("The baton goes to a leader. Choose a leader from the list."))
SELF = Problem("self", N_("Pass the baton to another leader, not to yourself."))
NO_STORY = Problem("no_story", N_("Write your story before you pass the baton on."))


def leaders(session: Session, org: Organisation, *, besides: Person | None = None) -> list[Person]:
    """Who may carry the baton: the organisation's active leaders and admins, by name."""
    stmt = select(Person).where(
        Person.org_id == org.id,
        col(Person.active).is_(True),
        col(Person.role).in_([Role.leader, Role.admin]),
    )
    if besides is not None:
        stmt = stmt.where(Person.id != besides.id)
    return list(session.exec(stmt.order_by(col(Person.name), col(Person.id))))


def current_leg(relay: Relay) -> Leg | None:
    return next((leg for leg in relay.legs if leg.status == LegStatus.holding), None)


def held_by(session: Session, person: Person) -> list[Leg]:
    """The batons `person` holds now, in open relays (for the notice on home and "Meg")."""
    return list(
        session.exec(
            select(Leg)
            .join(Relay, col(Relay.id) == Leg.relay_id)
            .where(
                Leg.holder_id == person.id,
                Leg.status == LegStatus.holding,
                col(Relay.closed_at).is_(None),
            )
            .order_by(col(Leg.received_at))
        )
    )


def holding(session: Session, person: Person, relay: Relay) -> Leg | None:
    """`person`'s leg of `relay` while they hold its baton."""
    if relay.closed_at is not None:
        return None
    return session.exec(
        select(Leg).where(
            Leg.relay_id == relay.id, Leg.status == LegStatus.holding, Leg.holder_id == person.id
        )
    ).first()


def _receiver(
    session: Session, org: Organisation, person_id: int | None, giver: Person | None
) -> Person:
    """The leader named in the form: another organisation's id is a 404, like any other id.

    `giver` may not pass to themselves; a curator (None) may hand the baton to anyone leading.
    """
    if person_id is None:
        raise Invalid({"to": NOT_LEADER})
    target = in_org(session, org, Person, person_id)
    if giver is not None and target.id == giver.id:
        raise Invalid({"to": SELF})
    if not target.active or not target.is_leader:
        raise Invalid({"to": NOT_LEADER})
    return target


def _hand(session: Session, relay: Relay, to: Person, giver: Person, now: datetime) -> Leg:
    leg = Leg(org_id=relay.org_id, relay=relay, holder=to, given_by=giver, received_at=now)
    session.add(leg)
    session.flush()
    session.add(
        StoryMail(
            org_id=relay.org_id,
            person_id=to.id,
            kind=MailKind.baton,
            key=f"baton:{leg.id}",
            leg_id=leg.id,
            due_at=now,
        )
    )
    return leg


def _end(session: Session, leg: Leg, status: LegStatus, now: datetime, reason: str = "") -> None:
    """End the leg if it is still held; Invalid when another request got there first."""
    ended = session.execute(
        update(Leg)
        .where(col(Leg.id) == leg.id, col(Leg.status) == LegStatus.holding)
        .values(status=status, ended_at=now, return_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        raise Invalid({"relay": NOT_HOLDING})
    session.refresh(leg)


def start_relay(
    session: Session,
    *,
    curator: Person,
    title: str,
    first_id: int | None,
    now: datetime | None = None,
) -> Relay:
    """A curator starts a relay and gives its baton to the first leader."""
    now = now or utcnow()
    if not curator.is_curator:
        raise PermissionDenied()
    errors: dict[str, Problem] = {}
    try:
        clean_title = clean_line(title, max_length=TITLE_MAX, required=True)
    except ValueError as exc:
        errors["title"] = exc.args[0]
    try:
        first = _receiver(session, curator.org, first_id, None)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    relay = Relay(
        org_id=curator.org_id, title=clean_title, started_by_id=curator.id, started_at=now
    )
    session.add(relay)
    session.flush()
    _hand(session, relay, first, curator, now)
    audit(session, curator.org, curator, "relay.start", f"relay {relay.id}", to=first.id)
    return relay


def pass_baton(
    session: Session,
    *,
    holder: Person,
    relay: Relay,
    to_id: int | None,
    now: datetime | None = None,
) -> Leg:
    """The holder, having written their story, passes the baton to another leader."""
    now = now or utcnow()
    if relay.closed_at is not None:
        raise Invalid({"relay": CLOSED})
    leg = holding(session, holder, relay)
    if leg is None:
        raise Invalid({"relay": NOT_HOLDING})
    to = _receiver(session, holder.org, to_id, holder)
    if leg.story is None:
        raise Invalid({"to": NO_STORY})
    _end(session, leg, LegStatus.passed, now)
    nxt = _hand(session, relay, to, holder, now)
    audit(session, holder.org, holder, "relay.pass", f"relay {relay.id}", to=to.id)
    return nxt


def hand_back(
    session: Session,
    *,
    holder: Person,
    relay: Relay,
    reason: str,
    now: datetime | None = None,
) -> Leg:
    """The holder gives the baton back to the curators, saying why; the curators hear of it."""
    now = now or utcnow()
    if relay.closed_at is not None:
        raise Invalid({"relay": CLOSED})
    leg = holding(session, holder, relay)
    if leg is None:
        raise Invalid({"relay": NOT_HOLDING})
    try:
        why = clean_text(reason, max_length=REASON_MAX, required=True)
    except ValueError as exc:
        raise Invalid({"reason": exc.args[0]}) from None
    _end(session, leg, LegStatus.returned, now, why)
    for curator in curators(session, holder.org):
        session.add(
            StoryMail(
                org_id=relay.org_id,
                person_id=curator.id,
                kind=MailKind.returned,
                key=f"returned:{leg.id}:{curator.id}",
                leg_id=leg.id,
                due_at=now,
            )
        )
    audit(session, holder.org, holder, "relay.return", f"relay {relay.id}")
    return leg


def hand_to(
    session: Session,
    *,
    curator: Person,
    relay: Relay,
    to_id: int | None,
    now: datetime | None = None,
) -> Leg:
    """A curator gives the baton to a leader: after it was handed back, or when it stalled."""
    now = now or utcnow()
    if not curator.is_curator:
        raise PermissionDenied()
    if relay.closed_at is not None:
        raise Invalid({"relay": CLOSED})
    current = current_leg(relay)
    to = _receiver(session, curator.org, to_id, None)
    if current is not None and current.holder_id == to.id:
        raise Invalid({"to": Problem("holds", N_("They already hold the baton."))})
    if current is not None:
        _end(session, current, LegStatus.taken, now)
    leg = _hand(session, relay, to, curator, now)
    audit(session, curator.org, curator, "relay.hand", f"relay {relay.id}", to=to.id)
    return leg


def close_relay(
    session: Session, *, curator: Person, relay: Relay, now: datetime | None = None
) -> None:
    """A curator ends a relay; whoever holds its baton stops being reminded."""
    now = now or utcnow()
    if not curator.is_curator:
        raise PermissionDenied()
    if relay.closed_at is not None:
        raise Invalid({"relay": CLOSED})
    current = current_leg(relay)
    if current is not None:
        _end(session, current, LegStatus.closed, now)
    relay.closed_at = now
    relay.closed_by_id = curator.id
    session.add(relay)
    audit(session, curator.org, curator, "relay.close", f"relay {relay.id}")


def curators(session: Session, org: Organisation) -> list[Person]:
    """Who hears that a baton stalled or came back: the active curators and admins."""
    return list(
        session.exec(
            select(Person)
            .where(
                Person.org_id == org.id,
                col(Person.active).is_(True),
                col(Person.role).in_([Role.curator, Role.admin]),
            )
            .order_by(col(Person.id))
        )
    )


def relays(session: Session, org: Organisation) -> list[Relay]:
    """The organisation's relays: open ones first, newest first."""
    return list(
        session.exec(
            select(Relay)
            .where(Relay.org_id == org.id)
            .order_by(
                col(Relay.closed_at).is_not(None),
                col(Relay.started_at).desc(),
                col(Relay.id).desc(),
            )
        )
    )


def stalled(session: Session, org: Organisation) -> list[Leg]:
    """Batons the curators should look at: stalled ones (held, reminded three times)."""
    return list(
        session.exec(
            select(Leg)
            .join(Relay, col(Relay.id) == Leg.relay_id)
            .where(
                Leg.org_id == org.id,
                Leg.status == LegStatus.holding,
                col(Leg.stalled_at).is_not(None),
                col(Relay.closed_at).is_(None),
            )
            .order_by(col(Leg.stalled_at))
        )
    )


def waiting(session: Session, org: Organisation) -> list[Relay]:
    """Open relays nobody holds (the baton was handed back): a curator gives it on."""
    return [r for r in relays(session, org) if r.closed_at is None and current_leg(r) is None]
