"""Reactions on a recognition: toggle one, count them for a page in one query."""

from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, Problem
from app.orgs.models import Person
from app.recognition.models import Reaction, ReactionKind, Recognition


def toggle_reaction(session: Session, person: Person, rec: Recognition, kind: str) -> bool:
    """Add the reaction, or take it away if it is there; returns whether it is on now."""
    try:
        reaction = ReactionKind(kind)
    except ValueError as exc:
        raise Invalid({"kind": Problem("invalid", N_("Unknown reaction."))}) from exc
    removed = session.execute(
        delete(Reaction).where(
            col(Reaction.recognition_id) == rec.id,
            col(Reaction.person_id) == person.id,
            col(Reaction.kind) == reaction,
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        return False
    try:
        with session.begin_nested():
            session.add(Reaction(recognition_id=rec.id, person_id=person.id, kind=reaction))
            session.flush()
    except IntegrityError:
        pass  # a double click got there first; it is on
    return True


@dataclass
class ReactionCount:
    kind: ReactionKind
    count: int = 0
    mine: bool = False


def reactions_for(
    session: Session, person: Person, rec_ids: list[int]
) -> dict[int, list[ReactionCount]]:
    """Counts per kind for each recognition, and whether `person` reacted, in one query."""
    result = {rid: [ReactionCount(kind) for kind in ReactionKind] for rid in rec_ids}
    if not rec_ids:
        return result
    rows = session.exec(
        select(Reaction.recognition_id, Reaction.kind, func.count())
        .where(col(Reaction.recognition_id).in_(rec_ids))
        .group_by(col(Reaction.recognition_id), col(Reaction.kind))
    ).all()
    mine = set(
        session.exec(
            select(Reaction.recognition_id, Reaction.kind).where(
                col(Reaction.recognition_id).in_(rec_ids), Reaction.person_id == person.id
            )
        ).all()
    )
    for rid, kind, count in rows:
        for rc in result[rid]:  # type: ignore[index]
            if rc.kind == kind:
                rc.count = count
                rc.mine = (rid, kind) in mine
    return result
