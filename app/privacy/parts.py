"""The parts of a person's data, one per feature, in the order they are erased.

Each feature that stores something about a person has `app/<feature>/privacy.py` with
`export_person(session, person) -> dict` (its keys are top-level keys of the export's JSON)
and `erase_person(session, person) -> dict[str, int] | None` (what it removed, counted, for
the admin's summary). A new feature adds one line here; `tests/privacy` checks that every
table with a foreign key to `person` is covered by a part or by the deletion of the row.

Order matters for erasure: the features that find things *through* other features' rows go
first (a weekly feature is found through the recognition it tells about), media last but one
(every photo still kept by an entry or a recognition has been let go by then), and the
audit log last, after the parts above wrote their own events.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from app.contests import privacy as contests
from app.insights import maintain as insights
from app.live import privacy as live
from app.media import privacy as media
from app.orgs.models import Person
from app.privacy import profile
from app.recognition import privacy as recognition
from app.stories import privacy as stories
from app.weekly import privacy as weekly

Export = Callable[[Session, Person], Mapping[str, Any]]
Erase = Callable[[Session, Person], Mapping[str, int] | None]


@dataclass(frozen=True)
class Part:
    name: str
    export: Export | None
    erase: Erase | None


PARTS: tuple[Part, ...] = (
    Part("profile", profile.export_profile, profile.erase_from_imports),
    Part("weekly", weekly.export_person, weekly.erase_person),
    Part("stories", stories.export_person, stories.erase_person),
    Part("live", live.export_person, live.erase_person),
    Part("contests", contests.export_person, contests.erase_person),
    Part("recognition", recognition.export_person, recognition.erase_person),
    Part("media", media.export_person, media.erase_person),
    Part("logins", profile.export_logins, profile.erase_logins),
    Part("audit", profile.export_audit, profile.erase_audit),
)

# Called after an erasure with the organisation's id and the days whose figures changed (the
# days of the recognitions the person gave or received), to keep aggregates right.
Refresh = Callable[[Session, int, set[date]], None]
AGGREGATES: tuple[Refresh, ...] = (insights.refresh_days,)
