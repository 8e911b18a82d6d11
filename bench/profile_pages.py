"""CPU per request in process, without HTTP: the app's own cost for one page or API call.

Drives the ASGI app directly (no socket, no uvicorn) against the generated database, with
the credentials `generate.py` wrote, and prints the CPU time per request (median of
`--rounds` rounds of `--requests` each). `--profile` runs pyinstrument over one round and
prints where the time goes.

    .venv/bin/python bench/profile_pages.py                       # every target
    .venv/bin/python bench/profile_pages.py --targets home --profile
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"


def targets(cred: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, str]]]:
    org = cred["org"]
    cookie = {"cookie": f"tod_session={cred['session']}"}
    bearer = {"authorization": f"Bearer {cred['api_token']}"}
    q = cred["queries"][0]
    # Bound to the CSRF cookie and the session, as app/web.py's `_csrf_mac` makes it.
    mac = f"profcsrf\x00{cred['session']}".encode()
    csrf = hmac.new(os.environ["TOD_SECRET_KEY"].encode(), mac, hashlib.sha256).hexdigest()
    r = cred["recipient_ids"]
    form = (
        f"POST csrf_token={csrf}&recipients={r[0]}&recipients={r[1]}&values={cred['value_ids'][0]}"
        "&text=Takk+for+hjelpen+i+dag%2C+det+betydde+mye%21&visibility=org&feature_consent=1"
    )
    give_h = {
        "cookie": f"tod_session={cred['session']}; tod_csrf=profcsrf",
        "content-type": "application/x-www-form-urlencoded",
        "origin": "http://127.0.0.1:8000",  # TOD_BASE_URL's default: the app's own origin
    }
    return {
        "give": (f"/{org}/give", form, give_h),
        "healthz": ("/healthz", "", {}),
        "home": (f"/{org}/", "", cookie),
        "home-htmx": (f"/{org}/", "", {**cookie, "hx-request": "true"}),
        "api": (f"/api/v1/orgs/{org}/recognitions", "", bearer),
        "people": (f"/{org}/give/people", f"q={q}", {**cookie, "hx-request": "true"}),
    }


GIVEN = [0]


async def call(app: Any, path: str, query: str, headers: dict[str, str]) -> tuple[int, int]:
    method, body = "GET", b""
    if query.startswith("POST "):  # a give: a new idempotency key each time
        GIVEN[0] += 1
        method, body = "POST", f"{query[5:]}&idempotency_key=prof-{GIVEN[0]}-{os.getpid()}".encode()
        query = ""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    size = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    await app(scope, receive, send)
    return status, size


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", default=str(DATA / "credentials.json"))
    parser.add_argument("--targets", default="healthz,home,home-htmx,api,people")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--queries", action="store_true", help="count SQL statements")
    args = parser.parse_args()
    cred = json.loads(Path(args.credentials).read_text())
    os.environ.update(
        TOD_DATABASE_URL=cred["database_url"],
        TOD_ENV="production",
        TOD_SECRET_KEY=secrets.token_urlsafe(48),
        TOD_SCHEDULER="off",
        TOD_LOG_LEVEL="WARNING",
        TOD_WRITE_RATE_PER_MINUTE="1000000",
    )
    sys.path.insert(0, str(ROOT))
    import logging

    from app.main import create_app

    logging.getLogger("tod").setLevel(logging.WARNING)
    app = create_app()
    from sqlalchemy import event

    from app.db import get_engine

    statements = 0

    def count(*_a: Any) -> None:
        nonlocal statements
        statements += 1

    if args.queries:
        event.listen(get_engine(), "before_cursor_execute", count)
    table = targets(cred)
    from sqlalchemy import text

    def delete_gifts() -> None:
        with get_engine().begin() as conn:
            conn.execute(text("DELETE FROM recognition WHERE idempotency_key LIKE 'prof-%'"))

    print(f"| target | status | bytes | CPU ms/request (median of {args.rounds}) | statements |")
    print("|---|---:|---:|---:|---:|")
    for name in args.targets.split(","):
        path, query, headers = table[name]
        status, size = await call(app, path, query, headers)
        for _ in range(10):
            await call(app, path, query, headers)
        rounds = []
        for _ in range(args.rounds):
            t0 = time.process_time()
            for _ in range(args.requests):
                await call(app, path, query, headers)
            rounds.append((time.process_time() - t0) * 1000 / args.requests)
        statements = 0
        await call(app, path, query, headers)
        print(
            f"| {name} | {status} | {size} | {statistics.median(rounds):.2f} | "
            f"{statements if args.queries else '-'} |"
        )
        if args.profile:
            import anyio.to_thread
            from pyinstrument import Profiler

            async def inline(func: Any, *a: Any, **_kw: Any) -> Any:
                return func(*a)  # the worker thread's work on the profiled thread

            anyio.to_thread.run_sync = inline  # type: ignore[assignment]

            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            for _ in range(args.requests):
                await call(app, path, query, headers)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    delete_gifts()


if __name__ == "__main__":
    asyncio.run(main())
