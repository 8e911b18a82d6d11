"""Photo competitions: create and edit, move the phases, list them for the contests page.

Plain functions over a session; they never commit. Phases are never stored: they follow from
the four windows and `now` (contests/phases.py), so a curator moves a competition on by editing
its windows. Entries are in contests/submissions.py, votes in contests/voting.py, results and
the export in contests/results.py, the photos' retention in contests/retention.py.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestVote, WinnerRule
from app.contests.phases import Phase, phase
from app.contests.results import Placing, winners
from app.contests.scope import require_curator
from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line
from app.orgs.models import Organisation, Person, Value

TITLE_MAX, THEME_MAX = 120, 1000
LIMIT_MIN, LIMIT_MAX = 1, 10  # entries per person, votes per person


# --- creating and editing -----------------------------------------------------------------


@dataclass
class ContestInput:
    """What a curator typed. Window times are datetimes or text such as "2026-11-23T09:00";
    a time without a zone is the organisation's local time."""

    title: str = ""
    theme: str = ""
    value_id: int | None = None
    submit_opens_at: datetime | str | None = None
    submit_closes_at: datetime | str | None = None
    vote_opens_at: datetime | str | None = None
    vote_closes_at: datetime | str | None = None
    entries_per_person: int | str = 1
    votes_per_person: int | str = 1
    winner_rule: str = WinnerRule.votes.value
    anonymous_voting: bool = True

    @classmethod
    def of(cls, contest: Contest) -> "ContestInput":
        return cls(
            title=contest.title,
            theme=contest.theme,
            value_id=contest.value_id,
            submit_opens_at=contest.submit_opens_at,
            submit_closes_at=contest.submit_closes_at,
            vote_opens_at=contest.vote_opens_at,
            vote_closes_at=contest.vote_closes_at,
            entries_per_person=contest.entries_per_person,
            votes_per_person=contest.votes_per_person,
            winner_rule=contest.winner_rule.value,
            anonymous_voting=contest.anonymous_voting,
        )


WINDOW_FIELDS = ("submit_opens_at", "submit_closes_at", "vote_opens_at", "vote_closes_at")


def local_datetime(org: Organisation, value: datetime | str | None) -> datetime:
    """An aware UTC datetime from a datetime-local value; naive means the org's time zone."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required")
    at = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(org.timezone))
    if not 2000 <= at.year <= 2999:
        raise ValueError("out of range")
    return at.astimezone(ZoneInfo("UTC"))


def local_input(org: Organisation, at: datetime | str | None) -> str:
    """The value of a datetime-local input: minutes in the organisation's time zone."""
    if at is None:
        return ""
    if isinstance(at, str):
        return at
    return at.astimezone(ZoneInfo(org.timezone)).strftime("%Y-%m-%dT%H:%M")


def _limit(raw: int | str, field: str, errors: dict[str, Problem]) -> int:
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = 0
    if not LIMIT_MIN <= n <= LIMIT_MAX:
        errors[field] = Problem("range", N_("Choose a number from 1 to 10."))
    return n


def _clean_input(
    session: Session, org: Organisation, data: ContestInput, current: Contest | None = None
) -> tuple[dict[str, Any], dict[str, Problem]]:
    errors: dict[str, Problem] = {}
    clean: dict[str, Any] = {}
    try:
        clean["title"] = clean_line(data.title, max_length=TITLE_MAX, required=True)
    except ValueError as exc:
        errors["title"] = exc.args[0]
    try:
        clean["theme"] = clean_line(data.theme, max_length=THEME_MAX)
    except ValueError as exc:
        errors["theme"] = exc.args[0]
    clean["value_id"] = None
    if data.value_id is not None:
        value = session.get(Value, data.value_id)
        # A value made inactive since may stay on the competition that already has it.
        keeps = current is not None and current.value_id == data.value_id
        if value is None or value.org_id != org.id or not (value.active or keeps):
            errors["value_id"] = Problem("unknown", N_("Choose a value from the list."))
        else:
            clean["value_id"] = value.id
    for name in WINDOW_FIELDS:
        try:
            clean[name] = local_datetime(org, getattr(data, name))
        except ValueError:
            errors[name] = Problem("invalid", N_("Write a date and a time."))
    windows = {n: clean[n] for n in WINDOW_FIELDS if n in clean}
    if len(windows) == len(WINDOW_FIELDS):
        if windows["submit_closes_at"] <= windows["submit_opens_at"]:
            errors["submit_closes_at"] = Problem(
                "order", N_("Submissions must close after they open.")
            )
        if windows["vote_opens_at"] < windows["submit_closes_at"]:
            errors["vote_opens_at"] = Problem(
                "order", N_("Voting can open when submissions close, or later.")
            )
        if windows["vote_closes_at"] <= windows["vote_opens_at"]:
            errors["vote_closes_at"] = Problem("order", N_("Voting must close after it opens."))
    clean["entries_per_person"] = _limit(data.entries_per_person, "entries_per_person", errors)
    clean["votes_per_person"] = _limit(data.votes_per_person, "votes_per_person", errors)
    try:
        clean["winner_rule"] = WinnerRule(data.winner_rule)
    except ValueError:
        errors["winner_rule"] = Problem("invalid", N_("Choose how the winners are found."))
    clean["anonymous_voting"] = bool(data.anonymous_voting)
    return clean, errors


def create_contest(session: Session, curator: Person, data: ContestInput) -> Contest:
    require_curator(curator)
    clean, errors = _clean_input(session, curator.org, data)
    if errors:
        raise Invalid(errors)
    contest = Contest(org_id=curator.org_id, created_by_id=curator.id, **clean)
    session.add(contest)
    session.flush()
    audit(
        session,
        curator.org,
        curator,
        "contest.create",
        f"contest {contest.id}",
        title=contest.title,
    )
    return contest


def update_contest(
    session: Session,
    curator: Person,
    contest: Contest,
    data: ContestInput,
    now: datetime | None = None,
    action: str = "contest.update",
) -> Contest:
    require_curator(curator, contest)
    now = now or utcnow()
    clean, errors = _clean_input(session, curator.org, data, contest)
    if errors:
        raise Invalid(errors)
    changed = {
        k: _audit_value(v)
        for k, v in clean.items()
        if _audit_value(getattr(contest, k)) != _audit_value(v)
    }
    for key, value in clean.items():
        setattr(contest, key, value)
    if phase(contest, now) != Phase.closed:
        # Voting was opened again: the results are announced anew when it closes.
        contest.results_announced_at = None
    # Fewer votes per person: the votes in the slots above the new limit are taken back.
    removed = session.execute(
        delete(ContestVote).where(
            col(ContestVote.contest_id) == contest.id,
            col(ContestVote.slot) > contest.votes_per_person,
        )
    ).rowcount  # type: ignore[attr-defined]
    session.add(contest)
    session.flush()
    detail: dict[str, Any] = {"changed": changed}
    if removed:
        detail["votes_removed"] = removed
    audit(session, curator.org, curator, action, f"contest {contest.id}", **detail)
    return contest


def _audit_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


class PhaseAction(StrEnum):
    close_submissions = "close_submissions"
    open_voting = "open_voting"
    close_voting = "close_voting"


def move_phase(
    session: Session, curator: Person, contest: Contest, action: str, now: datetime | None = None
) -> Contest:
    """The "now" buttons: close submissions, open voting or close voting at this moment, by
    moving the windows (and the later ones with them, so that they stay in order)."""
    now = now or utcnow()
    current = phase(contest, now)
    data = ContestInput.of(contest)
    try:
        act = PhaseAction(action)
    except ValueError as exc:
        raise Invalid({"action": Problem("invalid", N_("Unknown action."))}) from exc
    # The windows' CHECK constraints want each to end after it starts, if only just.
    tick = timedelta(microseconds=1)
    if act == PhaseAction.close_submissions and current == Phase.submitting:
        data.submit_closes_at = max(now, contest.submit_opens_at + tick)
    elif act == PhaseAction.open_voting and current == Phase.moderating:
        data.vote_opens_at = max(now, contest.submit_closes_at)
    elif act == PhaseAction.close_voting and current == Phase.voting:
        data.vote_closes_at = max(now, contest.vote_opens_at + tick)
    else:
        raise Invalid(
            {"action": Problem("phase", N_("That is not possible in this phase any more."))}
        )
    return update_contest(session, curator, contest, data, now, action=f"contest.{act.value}")


# --- lists --------------------------------------------------------------------------------


@dataclass
class Overview:
    current: list[Contest]  # submitting, moderating or voting
    upcoming: list[Contest]
    recent: list[tuple[Contest, list[Placing]]]  # closed, newest first, with their podium


def overview(
    session: Session, viewer: Person, now: datetime | None = None, recent: int = 5
) -> Overview:
    now = now or utcnow()
    open_or_soon = list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id, col(Contest.vote_closes_at) > now)
            .order_by(col(Contest.vote_closes_at), col(Contest.id))
        )
    )
    closed = list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id, col(Contest.vote_closes_at) <= now)
            .order_by(col(Contest.vote_closes_at).desc(), col(Contest.id).desc())
            .limit(recent)
        )
    )
    return Overview(
        current=[c for c in open_or_soon if phase(c, now) != Phase.upcoming],
        upcoming=sorted(
            (c for c in open_or_soon if phase(c, now) == Phase.upcoming),
            key=lambda c: c.submit_opens_at,
        ),
        recent=[(c, winners(session, c, now)) for c in closed],
    )


def list_contests(session: Session, viewer: Person) -> list[Contest]:
    return list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id)
            .order_by(col(Contest.submit_opens_at).desc(), col(Contest.id).desc())
        )
    )
