"""People import from CSV (email,name,department,title,role), for the CLI and the admin page.

The file is checked as a whole first (text, header); then each row is applied in its own
savepoint, so a bad row is reported and leaves nothing behind while the good rows go in.
"""

import csv
import io
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import normalise_email
from app.orgs.models import ImportJob, Organisation, Person
from app.orgs.people import upsert_person

log = logging.getLogger("tod.import")

COLUMNS = ("email", "name", "department", "title", "role")
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
PROGRESS_EVERY = 25
REPORT_LIMIT = 1000  # rejected rows kept for the report; the counts stay exact beyond it

NOT_UTF8 = Problem("encoding", N_("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."))
NOT_CSV = Problem("not_csv", N_("The file is not a CSV file that we can read."))
EMPTY = Problem("empty", N_("The file has no people below the header row."))
NO_HEADER = Problem(
    "header",
    N_("The first row must name the columns: email, name, department, title, role."),
)
NO_FILE = Problem("required", N_("Choose a CSV file."))
TOO_LARGE = Problem("too_large", N_("The file is larger than 2 MB. Split it into smaller files."))
DUPLICATE = Problem("duplicate", N_("This e-mail address is on an earlier row."))
CONFLICT = Problem("conflict", N_("This row clashed with a change made at the same time."))


@dataclass(frozen=True)
class Row:
    """One data row; `number` counts the header as row 1, as a spreadsheet shows it."""

    number: int
    values: dict[str, str]


@dataclass
class Outcome:
    total: int
    processed: int = 0
    created: int = 0
    updated: int = 0
    report: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.processed - self.created - self.updated


def _file_problem(problem: Problem) -> Invalid:
    return Invalid({"file": problem})


def decode(data: bytes) -> str:
    """UTF-8 text with or without a BOM; Invalid on "file" for anything else."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_problem(NOT_UTF8) from exc
    if "\x00" in text:  # valid UTF-8 can still be a binary file
        raise _file_problem(NOT_CSV)
    return text


def parse(text: str) -> list[Row]:
    """The data rows, after checking the header; Invalid on "file" when it is unusable."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    # Excel in Norway writes ";" between columns, most other tools write ",".
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _file_problem(EMPTY)
        names = [h.strip().lower() for h in header]
        if any(c not in names for c in COLUMNS):
            raise _file_problem(NO_HEADER)
        index = {c: names.index(c) for c in COLUMNS}
        rows: list[Row] = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets leave empty rows (";;;;") at the end
            values = {c: cells[i] if i < len(cells) else "" for c, i in index.items()}
            rows.append(Row(number=number, values=values))
    except csv.Error as exc:
        raise _file_problem(NOT_CSV) from exc
    if not rows:
        raise _file_problem(EMPTY)
    return rows


def check_upload(data: bytes | None) -> tuple[str, int]:
    """An uploaded file's text and number of rows; Invalid on "file" when it is unusable."""
    if data is None:
        raise _file_problem(NO_FILE)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _file_problem(TOO_LARGE)
    text = decode(data)
    return text, len(parse(text))


def _rejected(row: Row, problems: dict[str, Problem]) -> dict[str, Any]:
    return {
        "row": row.number,
        "email": row.values["email"].strip()[:100],
        "problems": [{"field": f, "message": p.message} for f, p in problems.items()],
    }


def apply_rows(
    session: Session,
    org: Organisation,
    rows: list[Row],
    *,
    actor: Person | None = None,
    source: str = "",
    on_progress: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Upsert every row in its own savepoint; `on_progress` runs every few rows and at the end."""
    outcome = Outcome(total=len(rows))
    seen: set[str] = set()
    for row in rows:
        problems: dict[str, Problem] = {}
        try:
            email = normalise_email(row.values["email"])
        except ValueError:
            email = ""  # upsert_person reports the address
        if email and email in seen:
            problems["email"] = DUPLICATE
        else:
            try:
                with session.begin_nested():
                    _person, created = upsert_person(
                        session,
                        org,
                        email=row.values["email"],
                        name=row.values["name"],
                        department=row.values["department"],
                        title=row.values["title"],
                        role=row.values["role"],
                        actor=actor,
                    )
            except Invalid as exc:
                problems = exc.errors
            except IntegrityError:
                problems = {"row": CONFLICT}
            else:
                seen.add(email)
                outcome.created += created
                outcome.updated += not created
        if problems and len(outcome.report) < REPORT_LIMIT:
            outcome.report.append(_rejected(row, problems))
        outcome.processed += 1
        if on_progress and (outcome.processed % PROGRESS_EVERY == 0):
            on_progress(outcome)
    audit(
        session,
        org,
        actor,
        "people.import",
        source,
        created=outcome.created,
        updated=outcome.updated,
        rejected=outcome.rejected,
    )
    if on_progress:
        on_progress(outcome)
    return outcome


# --- command line ---------------------------------------------------------------------------


def _bar(outcome: Outcome, out: TextIO, width: int = 30) -> None:
    done = outcome.processed / outcome.total if outcome.total else 1.0
    filled = round(width * done)
    out.write(
        f"\r[{'#' * filled}{'-' * (width - filled)}] {done:4.0%} "
        f"{outcome.processed}/{outcome.total}"
    )
    out.flush()


def import_people_cli(session: Session, org: Organisation, path: Path) -> int:
    """`python -m app people import`: 0 all rows in, 1 some rejected, 2 file unusable."""
    try:
        rows = parse(decode(path.read_bytes()))
    except OSError as exc:
        print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Invalid as exc:
        print(f"{path}: {exc.errors['file'].message}", file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()
    outcome = apply_rows(
        session,
        org,
        rows,
        source=path.name,
        on_progress=(lambda o: _bar(o, sys.stderr)) if tty else None,
    )
    if tty:
        sys.stderr.write("\n")
    print(f"created: {outcome.created}, updated: {outcome.updated}, rejected: {outcome.rejected}")
    for entry in outcome.report:
        for problem in entry["problems"]:
            print(
                f"row {entry['row']} ({entry['email']}): {problem['field']}: {problem['message']}"
            )
    if outcome.rejected > len(outcome.report):
        print(f"... and {outcome.rejected - len(outcome.report)} more rejected rows")
    return 1 if outcome.rejected else 0


# --- admin page: a job that a background task works through -----------------------------------


def start_job(session: Session, org: Organisation, actor: Person, filename: str, total: int) -> int:
    """Create the job row the progress page reads and return its id; the caller commits."""
    job = ImportJob(org_id=org.id, created_by_id=actor.id, filename=filename[:200], total=total)
    session.add(job)
    session.flush()
    return job.id or 0


def _save_progress(session: Session, job: ImportJob, outcome: Outcome) -> None:
    job.processed, job.created, job.updated = outcome.processed, outcome.created, outcome.updated
    job.report = list(outcome.report)  # a new list, so the JSON column is seen as changed
    session.add(job)
    session.commit()


def run_job(session_factory: Callable[[], Session], job_id: int, text: str) -> None:
    """Apply an uploaded file in a session of its own, saving progress as it goes."""
    session = session_factory()
    try:
        job = session.get(ImportJob, job_id)
        org = session.get(Organisation, job.org_id) if job else None
        if job is None or org is None:
            return
        actor = session.get(Person, job.created_by_id) if job.created_by_id else None
        job.status = "running"
        session.add(job)
        session.commit()
        try:
            apply_rows(
                session,
                org,
                parse(text),
                actor=actor,
                source=job.filename,
                on_progress=lambda outcome: _save_progress(session, job, outcome),
            )
            job.status = "done"
        except Exception:
            log.exception("people import %s failed", job_id)
            session.rollback()
            job.status = "failed"
        job.finished_at = utcnow()
        session.add(job)
        session.commit()
    finally:
        session.close()
