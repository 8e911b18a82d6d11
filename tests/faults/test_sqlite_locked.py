"""SQLite held by another process past the busy timeout: 503 with Retry-After in the user's
language (a page for a browser, JSON for the API), quickly, and nothing of the request kept."""

import re
import sqlite3
import time

import httpx
import pytest

from tests.faults.support import (
    ORG,
    api,
    app_server,
    give_body,
    running,
    server_env,
    set_up,
    texts_in_db,
)

pytestmark = pytest.mark.xdist_group("faults_sqlite_locked")
BUSY_MS = 400


def test_a_lock_held_by_another_process_is_a_503_then_the_same_request_works(tmp_path):
    path = tmp_path / "tod.db"
    url = f"sqlite:///{path}"
    d = set_up(url)
    server = app_server(
        server_env(url, tmp_path, TOD_SQLITE_BUSY_MS=str(BUSY_MS)), tmp_path / "log"
    )
    giver = d.givers[0]
    with running(server):
        with api(server.base_url, d.tokens[giver]) as c:
            assert (
                c.post(
                    "/recognitions", json=give_body(d, "Før låsen: takk for hjelpen!")
                ).status_code
                == 201
            )

        browser = httpx.Client(
            base_url=server.base_url,
            cookies={"tod_session": d.sessions[d.givers[1]]},
            # A browser sends its page's Origin with a form; the app refuses others.
            headers={"Accept-Language": "nb", "Origin": server.base_url},
            timeout=30,
        )
        page = browser.get(f"/{ORG}/give")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
        assert page.status_code == 200 and token and key

        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writes and does not let go
        try:
            started = time.monotonic()
            with api(server.base_url, d.tokens[giver]) as c:
                refused = c.post(
                    "/recognitions",
                    json=give_body(d, "Under låsen: dette skal ikke lagres."),
                    headers={"Idempotency-Key": "locked-0001"},
                )
            assert time.monotonic() - started < 5
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert refused.headers["content-type"].startswith("application/json")
            error = refused.json()["error"]
            assert error["code"] == "unavailable"
            assert (
                error["message"]
                == "Tjenesten er utilgjengelig et øyeblikk. Prøv igjen om noen sekunder."
            )

            form = {
                "csrf_token": token.group(1),
                "recipients": str(d.recipients[1]),
                "values": str(d.values[0]),
                "text": "Fra skjemaet under låsen: skal ikke lagres.",
                "idempotency_key": key.group(1),
            }
            page_refused = browser.post(f"/{ORG}/give", data=form, follow_redirects=False)
            assert page_refused.status_code == 503
            assert page_refused.headers["retry-after"] == "5"
            assert page_refused.headers["content-type"].startswith("text/html")
            assert '<html lang="nb">' in page_refused.text
            assert "Tjenesten er utilgjengelig et øyeblikk" in page_refused.text

            # Reading goes on meanwhile (WAL): only writers wait for the lock.
            assert browser.get(f"/{ORG}/").status_code == 200
        finally:
            other.rollback()
            other.close()

        assert texts_in_db(url) == ["Før låsen: takk for hjelpen!"]
        # The same request again, now that the lock is gone: done once.
        with api(server.base_url, d.tokens[giver]) as c:
            again = c.post(
                "/recognitions",
                json=give_body(d, "Under låsen: dette skal ikke lagres."),
                headers={"Idempotency-Key": "locked-0001"},
            )
        assert again.status_code == 201
        posted = browser.post(f"/{ORG}/give", data=form, follow_redirects=False)
        assert posted.status_code == 303, re.findall(r"(?s)error[^>]*>(.{0,200})", posted.text)
        browser.close()
    log = server.log()
    assert "Traceback" not in log and '"status": 500' not in log, log
    assert log.count("database unavailable (OperationalError: database is locked)") == 2
    assert len(texts_in_db(url)) == 3
