"""Command line: `python -m app --help`."""

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel import select

from app.config import get_settings


def _org(session, slug: str):
    from app.orgs.models import Organisation

    org = session.exec(select(Organisation).where(Organisation.slug == slug)).first()
    if org is None:
        raise SystemExit(f"no organisation with slug {slug!r}")
    return org


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    workers = args.workers or settings.workers
    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        "access_log": False,
        "log_config": None,
        "server_header": False,  # no banner naming the server software to every visitor
    }
    if workers > 1:
        # uvicorn's worker processes run its own Server: open event streams (big screens) are
        # cut after a few seconds instead of ending at the signal.
        uvicorn.run("app.main:app", workers=workers, timeout_graceful_shutdown=5, **options)
        return 0

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # uvicorn waits for open responses before the app's shutdown: end the big
            # screens' streams now, or a connected screen would keep the server running.
            from app.live.hub import HUB

            HUB.close_threadsafe()
            super().handle_exit(sig, frame)

    Server(uvicorn.Config("app.main:app", **options)).run()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from app import migrate

    migrate.upgrade()
    print("database is at the newest migration")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from app import migrate

    migrate.revision(args.message)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.demo.seed import seed_demo
    from app.orgs.models import Organisation

    with session_scope() as session:
        if args.if_empty and session.exec(select(Organisation)).first() is not None:
            print("database already has data; demo not seeded")
            return 0
        summary = seed_demo(session)
    print(summary)
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.errors import Invalid
    from app.orgs.settings import create_org

    values = [v for v in (args.values or "").split(",") if v.strip()]
    try:
        with session_scope() as session:
            org = create_org(
                session,
                slug=args.slug,
                name=args.name,
                locale=args.locale,
                values=values,
                admin_email=args.admin,
            )
            slug = org.slug
    except Invalid as exc:
        for field, problem in exc.errors.items():
            print(f"{field}: {problem.message}", file=sys.stderr)
        return 2
    print(f"created organisation {slug}: {get_settings().base_url}/{slug}/")
    return 0


def cmd_org_oidc(args: argparse.Namespace) -> int:
    from app.auth.oidc import redirect_uri
    from app.auth.oidc_config import configure_provider, set_magic_link_login
    from app.db import session_scope
    from app.errors import Invalid

    # "-" reads the secret from standard input: it then stays out of the shell's history.
    given: str = args.client_secret
    secret = sys.stdin.readline().strip() if given == "-" else given
    try:
        with session_scope() as session:
            org = _org(session, args.org)
            configure_provider(
                session,
                org,
                None,
                issuer=args.issuer,
                client_id=args.client_id,
                client_secret=secret,
                tenant_id=args.tenant or "",
                link_by_email=args.link_by_email,
            )
            if args.magic_link:
                set_magic_link_login(session, org, None, args.magic_link == "on")
            slug, magic = org.slug, org.magic_link_login
    except Invalid as exc:
        for field, problem in exc.errors.items():
            print(f"{field}: {problem.message}", file=sys.stderr)
        return 2
    print(f"login with the identity provider is set up for {slug}")
    print(f"e-mail login link: {'on' if magic else 'off'}")
    print(f"register this redirect URI at the provider: {redirect_uri()}")
    return 0


def cmd_people_import(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.orgs.importer import import_people_cli

    with session_scope() as session:
        org = _org(session, args.org)
        return import_people_cli(session, org, Path(args.file))


def cmd_people_erase(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.orgs.models import FORMER_COLLEAGUE_EMAIL, Person
    from app.privacy.erasure import erase_person

    email = args.email.strip().lower()
    with session_scope() as session:
        org = _org(session, args.org)
        person = session.exec(
            select(Person).where(Person.org_id == org.id, Person.email == email)
        ).first()
        if person is None or email == FORMER_COLLEAGUE_EMAIL:
            print(f"no person {args.email!r} in {org.slug}", file=sys.stderr)
            return 2
        summary = erase_person(session, person, actor=None)
    print(f"erased {email} from {args.org}")
    for what, count in sorted(summary.counts.items()):
        print(f"  {what}: {count}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from app.auth.service import create_api_token
    from app.db import session_scope
    from app.orgs.models import Person

    with session_scope() as session:
        org = _org(session, args.org)
        person = session.exec(
            select(Person).where(
                Person.org_id == org.id, Person.email == args.email.strip().lower()
            )
        ).first()
        if person is None or not person.active:
            print(f"no active person {args.email!r} in {org.slug}", file=sys.stderr)
            return 2
        _token, raw = create_api_token(session, person, args.name or "")
    print(f"API token for {person.name} ({org.slug}); it is shown only once:")
    print(raw)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from app.auth.models import ApiToken
    from app.auth.service import revoke_api_token
    from app.db import session_scope

    with session_scope() as session:
        token = session.exec(select(ApiToken).where(ApiToken.prefix == args.prefix)).first()
        if token is None:
            print(f"no token starting with {args.prefix!r}", file=sys.stderr)
            return 2
        revoke_api_token(session, token)
    print("revoked")
    return 0


def cmd_scim_token(args: argparse.Namespace) -> int:
    import app.models  # noqa: F401 - every table, so the mappers can resolve each foreign key
    from app.db import session_scope
    from app.scim.tokens import create_token

    with session_scope() as session:
        org = _org(session, args.org)
        try:
            token, raw = create_token(session, org, args.name or "")
        except ValueError:
            print("the name must be one line of at most 80 characters", file=sys.stderr)
            return 2
        slug, prefix = org.slug, token.prefix
    base = get_settings().base_url.rstrip("/")
    print(f"SCIM token {prefix}... for {slug}; it is shown only once.")
    print(f"Tenant URL: {base}/scim/v2/{slug}")
    print(raw)
    return 0


def cmd_scim_revoke(args: argparse.Namespace) -> int:
    import app.models  # noqa: F401
    from app.db import session_scope
    from app.scim.models import ScimToken
    from app.scim.tokens import revoke_token

    with session_scope() as session:
        org = _org(session, args.org)
        token = session.exec(
            select(ScimToken).where(ScimToken.org_id == org.id, ScimToken.prefix == args.prefix)
        ).first()
        if token is None:
            print(f"no SCIM token starting with {args.prefix!r} in {org.slug}", file=sys.stderr)
            return 2
        revoke_token(session, org, token)
    print("revoked")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from app.backup import backup_sqlite

    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite":
        print("backup copies SQLite databases; use pg_dump for PostgreSQL", file=sys.stderr)
        return 2
    size = backup_sqlite(url.database or "", Path(args.path))
    print(f"wrote {args.path} ({size} bytes)")
    return 0


def cmd_weekly(args: argparse.Namespace) -> int:
    import app.models  # noqa: F401 - every table, so the mappers can resolve each foreign key
    from app.db import new_session
    from app.weekly import jobs, schedule

    week = None
    if args.week:
        try:
            week = schedule.parse_week(args.week)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
    run = jobs.pick_now if args.weekly_command == "pick" else jobs.publish_now
    outcome = run(new_session, args.org, week)
    print(outcome.message, file=sys.stdout if outcome.exit_code == 0 else sys.stderr)
    return outcome.exit_code


def cmd_insights_rebuild(args: argparse.Namespace) -> int:
    import app.models  # noqa: F401 - every table, so the mappers can resolve each foreign key
    from app.db import new_session
    from app.insights.maintain import refresh_org
    from app.orgs.models import Organisation

    with new_session() as session:
        orgs = [_org(session, args.org)] if args.org else session.exec(select(Organisation)).all()
        for org in orgs:
            days = refresh_org(session, org.id or 0)
            session.commit()
            print(f"{org.slug}: {days} days rebuilt")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from app.scheduler import run_forever

    return run_forever()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Tre om dagen")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="serve the app (production entry point; no demo data)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database migrations").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="apply all migrations")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("revision", help="write a migration from the models (developers)")
    p.add_argument("-m", "--message", required=True)
    p.set_defaults(func=cmd_db_revision)

    p = sub.add_parser("demo", help="seed the demo organisations")
    p.add_argument(
        "--if-empty", action="store_true", help="only when the database has no organisation"
    )
    p.set_defaults(func=cmd_demo)

    org = sub.add_parser("org", help="organisations").add_subparsers(
        dest="org_command", required=True
    )
    p = org.add_parser("create", help="onboard a municipality")
    p.add_argument("--slug", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--locale", default="nb", choices=["nb", "nn", "sv", "en"])
    p.add_argument("--values", help='comma-separated, e.g. "Engasjement,Samarbeid,Servicefokus"')
    p.add_argument("--admin", help="e-mail of the first admin")
    p.set_defaults(func=cmd_org_create)

    p = org.add_parser(
        "oidc",
        help="log in with Microsoft Entra ID (or another OpenID provider)",
        description="Set up the organisation's identity provider. See docs/entra-id.md.",
    )
    p.add_argument("--org", required=True)
    p.add_argument(
        "--issuer", required=True, help="e.g. https://login.microsoftonline.com/TENANT/v2.0"
    )
    p.add_argument("--client-id", required=True, help="the application (client) id")
    p.add_argument(
        "--client-secret", required=True, help='the client secret, or "-" to read it from stdin'
    )
    p.add_argument("--tenant", help="Entra ID's directory (tenant) id; required for Entra ID")
    p.add_argument(
        "--link-by-email",
        action="store_true",
        help="link a first login by e-mail address when the provisioned id does not match",
    )
    p.add_argument(
        "--magic-link", choices=["on", "off"], help="allow the e-mail login link (default: as is)"
    )
    p.set_defaults(func=cmd_org_oidc)

    people = sub.add_parser("people", help="people").add_subparsers(
        dest="people_command", required=True
    )
    p = people.add_parser(
        "import", help="import people from CSV (email,name,department,title,role)"
    )
    p.add_argument("file")
    p.add_argument("--org", required=True)
    p.set_defaults(func=cmd_people_import)
    p = people.add_parser(
        "erase",
        help="erase a person and everything about them (the organisation's choice decides "
        "whether the recognitions they gave are kept anonymised or deleted)",
    )
    p.add_argument("--org", required=True)
    p.add_argument("--email", required=True)
    p.set_defaults(func=cmd_people_erase)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    p = token.add_parser("create", help="create an API token (printed as the last line)")
    p.add_argument("--org", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("revoke", help="revoke an API token by its first characters")
    p.add_argument("prefix")
    p.set_defaults(func=cmd_token_revoke)

    scim = sub.add_parser("scim", help="SCIM provisioning (Microsoft Entra ID)").add_subparsers(
        dest="scim_command", required=True
    )
    p = scim.add_parser("token", help="create an organisation's SCIM token (the last line)")
    p.add_argument("--org", required=True)
    p.add_argument("--name", help='what it is for, e.g. "Entra ID"')
    p.set_defaults(func=cmd_scim_token)
    p = scim.add_parser("revoke", help="revoke a SCIM token by its first characters")
    p.add_argument("prefix")
    p.add_argument("--org", required=True)
    p.set_defaults(func=cmd_scim_revoke)

    weekly = sub.add_parser(
        "weekly", help="Ukens ESS by hand: pick or publish a week now (safe to repeat)"
    ).add_subparsers(dest="weekly_command", required=True)
    p = weekly.add_parser(
        "pick", help="draft the week from its top candidate, unless it has a feature already"
    )
    p.add_argument("--org", required=True)
    p.add_argument("--week", help="ISO week such as 2026-W48 (default: this week)")
    p.set_defaults(func=cmd_weekly)
    p = weekly.add_parser(
        "publish",
        help="publish the week's approved feature now, once (default: the week that is due)",
    )
    p.add_argument("--org", required=True)
    p.add_argument("--week", help="ISO week such as 2026-W48 (publishes it even before its time)")
    p.set_defaults(func=cmd_weekly)

    p = sub.add_parser(
        "scheduler",
        help="run only the background jobs, in the foreground (with TOD_SCHEDULER=off "
        "on the app processes)",
        description="Run the background jobs (e-mail notifications, digests, ...) in the "
        "foreground until SIGTERM or Ctrl+C. Use one such process when several app processes "
        "serve the site, and set TOD_SCHEDULER=off for those.",
    )
    p.set_defaults(func=cmd_scheduler)

    insights = sub.add_parser("insights", help="insights aggregates").add_subparsers(
        dest="insights_command", required=True
    )
    p = insights.add_parser(
        "rebuild", help="rebuild the aggregates from the recognitions (after a bulk import)"
    )
    p.add_argument("--org", help="only this organisation (slug)")
    p.set_defaults(func=cmd_insights_rebuild)

    p = sub.add_parser("backup", help="consistent copy of the live SQLite database")
    p.add_argument("path")
    p.set_defaults(func=cmd_backup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=get_settings().log_level, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))
