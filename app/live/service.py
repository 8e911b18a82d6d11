"""Live sessions: creating and running them, answers, moderation and the tally the screen shows.

Every change the screen shows raises the session's `version` (the stream's event id) and is
announced after the commit (`app.live.hub.announce`): to this process's screens directly and,
on PostgreSQL, to every other process through NOTIFY.
"""

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from app.config import get_settings
from app.errors import N_, Invalid, NotFound, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line
from app.kernel.scope import in_org
from app.live import hub, words
from app.live.models import AnswerStatus, HeldWord, Kind, LiveAnswer, LiveSession, State
from app.orgs.fields import collect
from app.orgs.models import Organisation, Person, Value

# No 0/O, 1/I/l: a code read off a screen at the back of a hall is typed without doubt.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_OPTIONS = 8
SCALE = range(1, 6)

CLOSED = Problem("closed", N_("This session is not open for answers."))
WRONG_KIND = Problem("kind", N_("This answer does not fit the question."))
NO_CHOICE = Problem("choice", N_("Choose one of the options."))
NO_SCALE = Problem("scale", N_("Choose a number from 1 to 5."))
MEMBERS_ONLY = Problem("login", N_("Log in to answer this question."))

DEVICE_COOKIE = "tod_live_device"
DEVICE_MAX_AGE = 60 * 60 * 24 * 30
# A person changes an answer a few times at most; a script answering 50 times a second is not a
# person. Counted per participant (member or phone), never per address: a hall shares one.
ANSWERS_PER_WINDOW = 10
WINDOW_SECONDS = 5


def device_cookie(value: str) -> dict[str, object]:
    """The participant cookie's settings (`response.set_cookie(**device_cookie(v))`)."""
    return {
        "key": DEVICE_COOKIE,
        "value": value,
        "max_age": DEVICE_MAX_AGE,
        "httponly": True,
        "samesite": "lax",
        "secure": get_settings().https,
        "path": "/",
    }


def join_url(live: "LiveSession") -> str:
    return f"{get_settings().base_url.rstrip('/')}/live/{live.code}"


@dataclass(frozen=True)
class Participant:
    """Who answers: a member of the session's organisation, or an anonymous phone."""

    key: str
    person: Person | None = None

    @classmethod
    def member(cls, person: Person) -> "Participant":
        return cls(key=f"p{person.id}", person=person)

    @classmethod
    def device(cls, cookie: str) -> "Participant":
        # Only a hash is stored: the cookie itself is the device's secret.
        return cls(key="d" + hashlib.sha256(cookie.encode()).hexdigest()[:40])


def new_device_cookie() -> str:
    return secrets.token_urlsafe(24)


def normalise_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())[: CODE_LENGTH + 2]


def _new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.exec(select(LiveSession.id).where(LiveSession.code == code)).first() is None:
            return code


# --- loading --------------------------------------------------------------------------------


def session_for(session: Session, org: Organisation, live_id: int) -> LiveSession:
    return in_org(session, org, LiveSession, live_id)


def session_by_code(session: Session, code: str) -> LiveSession:
    live = session.exec(select(LiveSession).where(LiveSession.code == normalise_code(code))).first()
    if live is None or live.state == State.draft:
        raise NotFound()
    return live


def screen_allowed(live: LiveSession, key: str | None, person: Person | None) -> bool:
    """The curator's own organisation, or the screen link's secret key."""
    if person is not None and person.org_id == live.org_id and person.is_curator:
        return True
    return bool(key) and secrets.compare_digest(key or "", live.screen_key)


def sessions(session: Session, org: Organisation) -> list[LiveSession]:
    return list(
        session.exec(
            select(LiveSession)
            .where(LiveSession.org_id == org.id)
            .order_by(col(LiveSession.created_at).desc(), col(LiveSession.id).desc())
        )
    )


# --- curators -------------------------------------------------------------------------------


def _clean_options(kind: Kind, options: list[str]) -> list[str]:
    if kind != Kind.choice:
        return []
    cleaned = []
    for raw in options:
        option = clean_line(raw, max_length=80)
        if option and option not in cleaned:
            cleaned.append(option)
    if not 2 <= len(cleaned) <= MAX_OPTIONS:
        raise ValueError(Problem("options", N_("Give 2 to 8 different options, one a line.")))
    return cleaned


def create_session(
    session: Session,
    org: Organisation,
    *,
    actor: Person,
    question: str,
    kind: str,
    options: list[str] | None = None,
    value_id: int | None = None,
    allow_anonymous: bool = False,
    hide_until_revealed: bool = False,
) -> LiveSession:
    errors: dict[str, Problem] = {}
    question = collect(errors, "question", clean_line, question, max_length=200, required=True)
    try:
        chosen = Kind(kind)
    except ValueError:
        errors["kind"] = Problem("kind", N_("Choose what kind of question this is."))
        chosen = Kind.cloud
    cleaned = collect(errors, "options", _clean_options, chosen, options or [])
    value: Value | None = None
    if value_id is not None:
        value = session.get(Value, value_id)
        if value is None or value.org_id != org.id or not value.active:
            errors["value_id"] = Problem("value", N_("Choose one of the organisation's values."))
    if errors:
        raise Invalid(errors)
    live = LiveSession(
        org=org,
        created_by_id=actor.id,
        value=value,
        question=question,
        kind=chosen,
        options=cleaned,
        code=_new_code(session),
        screen_key=secrets.token_urlsafe(24),
        allow_anonymous=allow_anonymous,
        revealed=not hide_until_revealed,
    )
    session.add(live)
    session.flush()
    audit(session, actor.org, actor, "live.create", target=f"live:{live.id}")
    return live


def bump(session: Session, live: LiveSession) -> None:
    """Raise the version in the database (not from a stale copy) and announce it."""
    session.execute(
        update(LiveSession)
        .where(col(LiveSession.id) == live.id)
        .values(version=LiveSession.version + 1)
    )
    session.refresh(live, ["version"])
    assert live.id is not None
    hub.announce(session, live.id)


def set_state(session: Session, live: LiveSession, state: str, *, actor: Person) -> LiveSession:
    try:
        target = State(state)
    except ValueError:
        raise Invalid({"state": Problem("state", N_("Choose open or closed."))}) from None
    if target == State.draft and live.state != State.draft:
        raise Invalid({"state": Problem("state", N_("An opened session cannot become a draft."))})
    if target == live.state:
        return live
    live.state = target
    now = utcnow()
    if target == State.open:
        if live.kind == Kind.cloud:
            words.warm_soon(live.org.locale)
        live.opened_at = live.opened_at or now
        live.closed_at = None
    elif target == State.closed:
        live.closed_at = now
    session.add(live)
    audit(session, actor.org, actor, f"live.{target.value}", target=f"live:{live.id}")
    bump(session, live)
    return live


def set_flags(
    session: Session,
    live: LiveSession,
    *,
    actor: Person,
    revealed: bool | None = None,
    results_shared: bool | None = None,
) -> LiveSession:
    if revealed is not None:
        live.revealed = revealed
    if results_shared is not None:
        live.results_shared = results_shared
    session.add(live)
    audit(session, actor.org, actor, "live.settings", target=f"live:{live.id}")
    bump(session, live)
    return live


def moderate(
    session: Session, live: LiveSession, answer_id: int, status: str, *, actor: Person
) -> LiveAnswer:
    answer = session.get(LiveAnswer, answer_id)
    if answer is None or answer.session_id != live.id:
        raise NotFound()
    try:
        answer.status = AnswerStatus(status)
    except ValueError:
        raise Invalid({"status": Problem("status", N_("Choose show or hide."))}) from None
    session.add(answer)
    audit(
        session,
        actor.org,
        actor,
        f"live.answer.{answer.status.value}",
        target=f"liveanswer:{answer.id}",
    )
    bump(session, live)
    return answer


# --- participants ---------------------------------------------------------------------------


def participant_for(live: LiveSession, person: Person | None, device: str | None) -> Participant:
    """A member of the session's organisation, or (when allowed) the phone's cookie."""
    if person is not None and person.org_id == live.org_id:
        return Participant.member(person)
    if live.allow_anonymous and device:
        return Participant.device(device)
    raise PermissionDenied()


def own_answer(session: Session, live: LiveSession, participant: Participant) -> LiveAnswer | None:
    return session.exec(
        select(LiveAnswer).where(
            LiveAnswer.session_id == live.id, LiveAnswer.participant == participant.key
        )
    ).first()


def held_words(session: Session, org: Organisation) -> set[str]:
    return set(session.exec(select(HeldWord.word).where(HeldWord.org_id == org.id)))


def answer(
    session: Session,
    live: LiveSession,
    participant: Participant,
    *,
    text: str | None = None,
    choice: int | None = None,
    scale: int | None = None,
) -> LiveAnswer:
    """Store (or change) a participant's answer; Invalid with a message for the phone."""
    if live.state != State.open:
        raise Invalid({"answer": CLOSED})
    found: dict[str, object] = {"words": [], "choice": None, "scale": None}
    if live.kind == Kind.cloud:
        if text is None:
            raise Invalid({"text": WRONG_KIND})
        try:
            found["words"] = words.clean_words(text)
        except ValueError as exc:
            raise Invalid({"text": exc.args[0]}) from None
    elif live.kind == Kind.choice:
        if choice is None or not 1 <= choice <= len(live.options):
            raise Invalid({"choice": NO_CHOICE})
        found["choice"] = choice
    else:
        if scale is None or scale not in SCALE:
            raise Invalid({"scale": NO_SCALE})
        found["scale"] = scale
    org = live.org
    status = AnswerStatus.shown
    if found["words"] and words.held(found["words"], held_words(session, org), org.locale):  # type: ignore[arg-type]
        status = AnswerStatus.held
    now = utcnow()
    row = own_answer(session, live, participant)
    if row is None:
        row = LiveAnswer(
            session_id=live.id,
            participant=participant.key,
            person_id=participant.person.id if participant.person else None,
        )
        try:
            with session.begin_nested():
                _fill(row, found, status, now)
                session.add(row)
        except IntegrityError:
            # The same phone twice at once: the other request stored it first; change that one.
            row = own_answer(session, live, participant)
            if row is None:
                raise
    # An answer a curator hid stays hidden when its participant changes it.
    _fill(row, found, AnswerStatus.hidden if row.status == AnswerStatus.hidden else status, now)
    session.add(row)
    session.flush()
    bump(session, live)
    return row


def _fill(row: LiveAnswer, found: dict[str, object], status: AnswerStatus, now: object) -> None:
    row.words = list(found["words"])  # type: ignore[call-overload]
    row.choice = found["choice"]  # type: ignore[assignment]
    row.scale = found["scale"]  # type: ignore[assignment]
    row.status = status
    row.updated_at = now  # type: ignore[assignment]


# --- the tally ------------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    count: int
    percent: int


@dataclass
class Tally:
    participants: int
    shown: int
    cloud: list[words.CloudWord] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    average: float | None = None


def tally(session: Session, live: LiveSession) -> Tally:
    """What the screen shows: shown answers only (hidden and held ones are left out)."""
    rows = session.exec(
        select(LiveAnswer.words, LiveAnswer.choice, LiveAnswer.scale).where(
            LiveAnswer.session_id == live.id, LiveAnswer.status == AnswerStatus.shown
        )
    ).all()
    participants = session.exec(
        select(func.count()).select_from(LiveAnswer).where(LiveAnswer.session_id == live.id)
    ).one()
    result = Tally(participants=participants, shown=len(rows))
    if live.kind == Kind.cloud:
        result.cloud = words.cloud((w for ws, _, _ in rows for w in ws), live.org.locale)
    elif live.kind == Kind.choice:
        counts = Counter(c for _, c, _ in rows if c is not None)
        result.bars = _bars([(o, counts[i]) for i, o in enumerate(live.options, 1)])
    else:
        counts = Counter(s for _, _, s in rows if s is not None)
        result.bars = _bars([(str(n), counts[n]) for n in SCALE])
        total = sum(counts.values())
        result.average = sum(n * c for n, c in counts.items()) / total if total else None
    return result


def _bars(items: list[tuple[str, int]]) -> list[Bar]:
    total = sum(n for _, n in items)
    return [Bar(label, n, round(100 * n / total) if total else 0) for label, n in items]


def answers(session: Session, live: LiveSession, *, limit: int | None = None) -> list[LiveAnswer]:
    """Newest first, every status: the curator's moderation list and the CSV export."""
    query = (
        select(LiveAnswer)
        .where(LiveAnswer.session_id == live.id)
        .order_by(col(LiveAnswer.updated_at).desc(), col(LiveAnswer.id).desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def answer_label(live: LiveSession, row: LiveAnswer) -> str:
    if live.kind == Kind.cloud:
        return ", ".join(row.words)
    if live.kind == Kind.choice and row.choice is not None:
        return live.options[row.choice - 1]
    return str(row.scale)


# --- held words -----------------------------------------------------------------------------


def add_held_word(
    session: Session, org: Organisation, *, locale: str, word: str, actor: Person
) -> HeldWord:
    if locale not in ("nb", "nn", "sv", "en"):
        raise Invalid({"locale": Problem("locale", N_("Choose a language."))})
    try:
        (cleaned,) = words.clean_words(word)
    except ValueError as exc:
        problem = exc.args[0] if exc.args and isinstance(exc.args[0], Problem) else words.EMPTY
        if problem == words.TOO_MANY:
            problem = Problem("one_word", N_("Write one word."))
        raise Invalid({"word": problem}) from None
    existing = session.exec(
        select(HeldWord).where(
            HeldWord.org_id == org.id, HeldWord.locale == locale, HeldWord.word == cleaned
        )
    ).first()
    if existing is not None:
        return existing
    held = HeldWord(org_id=org.id, locale=locale, word=cleaned)
    session.add(held)
    session.flush()
    audit(session, actor.org, actor, "live.heldword.add", target=f"liveheldword:{held.id}")
    return held


def held_word_list(session: Session, org: Organisation) -> list[HeldWord]:
    return list(
        session.exec(
            select(HeldWord)
            .where(HeldWord.org_id == org.id)
            .order_by(col(HeldWord.locale), col(HeldWord.word))
        )
    )


def remove_held_word(session: Session, org: Organisation, word_id: int, *, actor: Person) -> None:
    held = in_org(session, org, HeldWord, word_id)
    audit(session, actor.org, actor, "live.heldword.remove", target=f"liveheldword:{held.id}")
    session.delete(held)
