"""Photo competition pages: the list, a competition per phase, sending a photo, the gallery
with its vote buttons, the podium, moderation, the curators' form and the CSV export."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app import i18n
from app.access import CuratorDep, Member, MemberDep
from app.contests import phases, results, scope, service, submissions, voting
from app.contests.models import Contest, ContestEntry, EntryStatus, WinnerRule
from app.contests.phases import Phase
from app.contests.presentation import PLACE_LABELS
from app.db import SessionDep
from app.errors import N_, Invalid
from app.kernel.clock import utcnow
from app.kernel.paging import page_number
from app.media import service as media
from app.orgs.models import Value
from app.security import PROTECT
from app.web import PathId as Id
from app.web import field_errors, flash, is_htmx, is_safe_next, redirect, render

router = APIRouter(prefix="/{org}/contests", include_in_schema=False)


PHASE_LABELS = {
    Phase.upcoming: N_("Coming up"),
    Phase.submitting: N_("Open for photos"),
    Phase.moderating: N_("Voting opens soon"),
    Phase.voting: N_("Voting"),
    Phase.closed: N_("Closed"),
}
STATUS_LABELS = {
    EntryStatus.pending: N_("Waiting for approval"),
    EntryStatus.approved: N_("Approved"),
    EntryStatus.rejected: N_("Not approved"),
}


def _contest(session: SessionDep, m: MemberDep, contest_id: Id) -> Contest:
    return scope.contest_for(session, m.person, contest_id)


ContestDep = Annotated[Contest, Depends(_contest)]


def _base(m: Member, contest: Contest | None = None) -> str:
    base = f"/{m.org.slug}/contests"
    return f"{base}/{contest.id}" if contest is not None else base


# --- photos -------------------------------------------------------------------------------


def photo(entry: ContestEntry) -> media.Picture | None:
    """What a <picture> needs for this entry's photo; None once retention deleted it."""
    return media.picture(entry.image, entry.caption) if results.has_photo(entry) else None


def _common() -> dict[str, Any]:
    return {
        "photo": photo,
        "phase_labels": PHASE_LABELS,
        "place_labels": PLACE_LABELS,
        "status_labels": STATUS_LABELS,
        "Phase": Phase,
        "now": utcnow(),
    }


# --- the list -----------------------------------------------------------------------------


@router.get("")
def index(request: Request, session: SessionDep, m: MemberDep) -> Response:
    now = utcnow()
    overview = service.overview(session, m.person, now)
    contests = [*overview.current, *overview.upcoming, *(c for c, _ in overview.recent)]
    return render(
        request,
        "contests/index.html",
        {
            **_common(),
            "overview": overview,
            "phases": {c.id: phases.phase(c, now) for c in contests},
        },
    )


# --- one competition ----------------------------------------------------------------------


def _gallery_context(
    session: Session, m: Member, contest: Contest, number: int, now: Any
) -> dict[str, Any]:
    current = phases.phase(contest, now)
    shown = current in (Phase.voting, Phase.closed)
    page = submissions.gallery(session, m.person, contest, number, now) if shown else None
    return {
        "gallery": page,
        "my_votes": voting.my_votes(session, m.person, contest),
        "voting": current == Phase.voting,
        "show_author": submissions.show_author(contest, now),
        "totals": results.vote_totals(session, contest, now) if current == Phase.closed else None,
    }


def _contest_page(
    request: Request,
    session: Session,
    m: Member,
    contest: Contest,
    *,
    errors: dict[str, str] | None = None,
    caption: str = "",
    status_code: int = 200,
) -> Response:
    now = utcnow()
    current = phases.phase(contest, now)
    ctx: dict[str, Any] = {
        **_common(),
        "now": now,
        "contest": contest,
        "phase": current,
        "entries": submissions.my_entries(session, m.person, contest),
        "entries_left": submissions.entries_left(session, m.person, contest),
        "errors": errors or {},
        "caption": caption,
        "caption_max": submissions.CAPTION_MAX,
        "podium": results.winners(session, contest, now),
        "pending": submissions.pending_count(session, contest) if m.person.is_curator else 0,
    }
    ctx.update(_gallery_context(session, m, contest, 1, now))
    return render(request, "contests/contest.html", ctx, status_code=status_code)


class ContestForm:
    """The create/edit form as posted; every field optional, so the service reports them."""

    def __init__(
        self,
        title: Annotated[str, Form(max_length=500)] = "",
        theme: Annotated[str, Form(max_length=4000)] = "",
        value_id: Annotated[str, Form(max_length=20)] = "",
        submit_opens_at: Annotated[str, Form(max_length=40)] = "",
        submit_closes_at: Annotated[str, Form(max_length=40)] = "",
        vote_opens_at: Annotated[str, Form(max_length=40)] = "",
        vote_closes_at: Annotated[str, Form(max_length=40)] = "",
        entries_per_person: Annotated[str, Form(max_length=10)] = "",
        vote_rule: Annotated[str, Form(max_length=10)] = "one",
        votes_per_person: Annotated[str, Form(max_length=10)] = "",
        winner_rule: Annotated[str, Form(max_length=10)] = "",
        anonymous_voting: Annotated[str, Form(max_length=5)] = "",
    ) -> None:
        self.title = title
        self.theme = theme
        self.value_id = value_id
        self.windows = (submit_opens_at, submit_closes_at, vote_opens_at, vote_closes_at)
        self.entries_per_person = entries_per_person
        self.vote_rule = vote_rule
        self.votes_per_person = votes_per_person
        self.winner_rule = winner_rule
        self.anonymous_voting = anonymous_voting

    def to_input(self) -> service.ContestInput:
        value_id: int | None = None
        if self.value_id.strip():
            value_id = int(self.value_id) if self.value_id.strip().isdigit() else -1
        opens, closes, vote_opens, vote_closes = self.windows
        return service.ContestInput(
            title=self.title,
            theme=self.theme,
            value_id=value_id,
            submit_opens_at=opens,
            submit_closes_at=closes,
            vote_opens_at=vote_opens,
            vote_closes_at=vote_closes,
            entries_per_person=self.entries_per_person,
            # "One vote per person" is one slot; "up to N" is N slots.
            votes_per_person=1 if self.vote_rule != "many" else self.votes_per_person,
            winner_rule=self.winner_rule,
            anonymous_voting=bool(self.anonymous_voting),
        )


@router.get("/new")
def new_form(request: Request, session: SessionDep, m: CuratorDep) -> Response:
    return _form_page(request, session, m, None, service.ContestInput(), {})


@router.post("/new", dependencies=PROTECT)
def create(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    form: Annotated[ContestForm, Depends()],
) -> Response:
    data = form.to_input()
    try:
        contest = service.create_contest(session, m.person, data)
    except Invalid as exc:
        session.rollback()
        return _form_page(
            request, session, m, None, data, field_errors(request, exc.errors), status_code=422
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, _base(m, contest), message=_("The competition is saved."))


@router.get("/{contest_id}")
def detail(request: Request, session: SessionDep, m: MemberDep, contest: ContestDep) -> Response:
    return _contest_page(request, session, m, contest)


@router.get("/{contest_id}/gallery")
def gallery_page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    page: Annotated[str, Query(max_length=10)] = "1",
) -> Response:
    """More photos: the items only for htmx's "revealed", a page of its own otherwise."""
    now = utcnow()
    ctx = {
        **_common(),
        "now": now,
        "contest": contest,
        "phase": phases.phase(contest, now),
        **_gallery_context(session, m, contest, page_number(page), now),
    }
    return render(request, "contests/gallery.html", ctx, block="items")


# --- curators: create, edit, move on -----------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    m: Member,
    contest: Contest | None,
    data: service.ContestInput,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    values = list(
        session.exec(
            select(Value)
            .where(Value.org_id == m.org.id, col(Value.active).is_(True))
            .order_by(col(Value.position))
        )
    )
    if contest is not None and contest.value is not None and contest.value not in values:
        values.append(contest.value)
    windows = {
        name: service.local_input(m.org, getattr(data, name)) for name in service.WINDOW_FIELDS
    }
    return render(
        request,
        "contests/form.html",
        {
            **_common(),
            "contest": contest,
            "data": data,
            "windows": windows,
            "values": values,
            "errors": errors,
            "winner_rules": list(WinnerRule),
        },
        status_code=status_code,
    )


@router.get("/{contest_id}/edit")
def edit_form(
    request: Request, session: SessionDep, m: CuratorDep, contest: ContestDep
) -> Response:
    return _form_page(request, session, m, contest, service.ContestInput.of(contest), {})


@router.post("/{contest_id}/edit", dependencies=PROTECT)
def edit(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    contest: ContestDep,
    form: Annotated[ContestForm, Depends()],
) -> Response:
    data = form.to_input()
    try:
        service.update_contest(session, m.person, contest, data)
    except Invalid as exc:
        session.rollback()
        return _form_page(
            request, session, m, contest, data, field_errors(request, exc.errors), status_code=422
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, _base(m, contest), message=_("The competition is saved."))


@router.post("/{contest_id}/phase", dependencies=PROTECT)
def move_phase(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    contest: ContestDep,
    action: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """The "… now" buttons: they move a window to this moment."""
    _ = i18n.gettext_for(request)
    try:
        service.move_phase(session, m.person, contest, action)
    except Invalid as exc:
        session.rollback()
        response = redirect(request, _base(m, contest))
        flash(response, _(exc.first.message), "error")
        return response
    session.commit()
    return redirect(request, _base(m, contest), message=_("Done. The times are updated."))


# --- sending a photo ----------------------------------------------------------------------


@router.post("/{contest_id}/entries", dependencies=PROTECT)
def submit(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    photo_file: Annotated[UploadFile | None, File(alias="photo")] = None,
    caption: Annotated[str, Form(max_length=2000)] = "",
    people_consent: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    try:
        submissions.submit_entry(
            session,
            m.person,
            contest,
            upload=photo_file,
            caption=caption,
            people_consent=bool(people_consent),
        )
    except Invalid as exc:
        session.rollback()
        return _contest_page(
            request,
            session,
            m,
            contest,
            errors=field_errors(request, exc.errors),
            caption=caption,
            status_code=422,
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{_base(m, contest)}#my-entries",
        message=_("Thank you! Your photo is shown when a curator has approved it."),
    )


# --- voting -------------------------------------------------------------------------------


def _entry(session: Session, m: Member, contest: Contest, entry_id: int) -> ContestEntry:
    return scope.entry_for(session, m.person, contest, entry_id)


@router.post("/{contest_id}/entries/{entry_id}/vote", dependencies=PROTECT)
def vote(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    entry_id: Id,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The vote button toggles. htmx gets the button back, plus the buttons whose state the
    vote changed elsewhere on the page (a moved vote) and the count of votes left."""
    entry = _entry(session, m, contest, entry_id)
    before = voting.my_votes(session, m.person, contest)
    error = None
    try:
        voting.toggle_vote(session, m.person, entry)
    except Invalid as exc:
        session.rollback()
        error = field_errors(request, exc.errors).get("vote")
    else:
        session.commit()
    target = next if is_safe_next(next) else f"{_base(m, contest)}#entry-{entry.id}"
    if not is_htmx(request):
        response = redirect(request, target)
        if error:
            flash(response, error, "error")
        return response
    after = voting.my_votes(session, m.person, contest)
    changed = [eid for eid in set(before) ^ set(after) if eid != entry.id]
    others = (
        list(session.exec(select(ContestEntry).where(col(ContestEntry.id).in_(changed))))
        if changed
        else []
    )
    return render(
        request,
        "contests/_vote_response.html",
        {
            "contest": contest,
            "entry": entry,
            "others": others,
            "my_votes": after,
            "vote_error": error,
            "next": next,
        },
        status_code=422 if error else 200,
    )


# --- moderation and the jury --------------------------------------------------------------


def _queue_page(
    request: Request,
    session: Session,
    m: Member,
    contest: Contest,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    reasons: dict[int, str] | None = None,
    jury_error: str | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    entries = submissions.moderation_queue(session, contest)
    return render(
        request,
        "contests/moderate.html",
        {
            **_common(),
            "now": now,
            "contest": contest,
            "phase": phases.phase(contest, now),
            "entries": entries,
            "pending": [e for e in entries if e.status == EntryStatus.pending],
            "done": [e for e in entries if e.status != EntryStatus.pending],
            "approved": [e for e in entries if e.status == EntryStatus.approved],
            "errors": errors or {},
            "reasons": reasons or {},
            "jury_error": jury_error,
        },
        status_code=status_code,
    )


@router.get("/{contest_id}/moderate")
def queue(request: Request, session: SessionDep, m: CuratorDep, contest: ContestDep) -> Response:
    return _queue_page(request, session, m, contest)


@router.post("/{contest_id}/entries/{entry_id}/moderate", dependencies=PROTECT)
def moderate(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    contest: ContestDep,
    entry_id: Id,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    entry = _entry(session, m, contest, entry_id)
    _ = i18n.gettext_for(request)
    if decision not in ("approve", "reject"):
        return redirect(request, f"{_base(m, contest)}/moderate")
    try:
        submissions.moderate_entry(
            session, m.person, entry, approve=decision == "approve", reason=reason
        )
    except Invalid as exc:
        session.rollback()
        return _queue_page(
            request,
            session,
            m,
            contest,
            errors={entry_id: field_errors(request, exc.errors)},
            reasons={entry_id: reason},
            status_code=422,
        )
    session.commit()
    message = (
        _("Approved.") if decision == "approve" else _("Not approved. The photographer sees why.")
    )
    return redirect(request, f"{_base(m, contest)}/moderate", message=message)


async def _jury_places(request: Request) -> dict[int, int | None]:
    """The jury form: one select per approved photo, named place-{entry id}; "" is no place."""
    form = await request.form()
    places: dict[int, int | None] = {}
    for key, raw in form.multi_items():
        if not key.startswith("place-") or not isinstance(raw, str):
            continue
        entry_key, value = key.removeprefix("place-"), raw.strip()
        if entry_key.isdigit() and len(entry_key) < 19:
            places[int(entry_key)] = int(value) if value.isdigit() and len(value) < 3 else None
    return places


@router.post("/{contest_id}/jury", dependencies=PROTECT)
def jury(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    contest: ContestDep,
    places: Annotated[dict[int, int | None], Depends(_jury_places)],
) -> Response:
    return _save_jury(request, session, m, contest, places)


def _save_jury(
    request: Request, session: Session, m: Member, contest: Contest, places: dict[int, int | None]
) -> Response:
    _ = i18n.gettext_for(request)
    try:
        results.set_jury_places(session, m.person, contest, places)
    except Invalid as exc:
        session.rollback()
        return _queue_page(
            request, session, m, contest, jury_error=_(exc.first.message), status_code=422
        )
    session.commit()
    return redirect(
        request, f"{_base(m, contest)}/moderate", message=_("The jury's choice is saved.")
    )


@router.get("/{contest_id}/export.csv")
def export(request: Request, session: SessionDep, m: CuratorDep, contest: ContestDep) -> Response:
    """Entries and, once voting has closed, their votes: a spreadsheet for the curators."""
    text = results.export_csv(session, m.person, contest)
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{results.csv_filename(contest)}"',
            "Cache-Control": "no-store",
        },
    )
