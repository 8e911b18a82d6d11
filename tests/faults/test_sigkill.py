"""The app killed with SIGKILL while 10 clients give: after a restart every recognition that was
answered 201 exists, each whole (its recipients and values), nothing that was not asked for
exists, and SQLite's integrity check passes."""

import sqlite3
import threading
import time

import httpx
import pytest

from tests.faults.support import (
    GIVERS,
    api,
    app_server,
    give_body,
    running,
    server_env,
    set_up,
    texts_in_db,
)

pytestmark = [pytest.mark.xdist_group("faults_sigkill"), pytest.mark.slow]
KILL_AFTER = 40  # accepted recognitions before the kill


def test_sigkill_while_ten_clients_give_loses_nothing_accepted(tmp_path):
    path = tmp_path / "tod.db"
    url = f"sqlite:///{path}"
    d = set_up(url)
    env = server_env(url, tmp_path)
    server = app_server(env, tmp_path / "log")
    answers: dict[str, int] = {}
    lock = threading.Lock()
    dead = threading.Event()

    def giver(n: int) -> None:
        with api(server.base_url, d.tokens[d.givers[n]], timeout=15) as c:
            i = 0
            while not dead.is_set():
                text = f"Giver {n} takker for innsats nummer {i}."
                with lock:
                    answers[text] = 0  # asked, no answer yet
                try:
                    status = c.post("/recognitions", json=give_body(d, text, n=i)).status_code
                except httpx.TransportError:
                    return  # the server is gone
                with lock:
                    answers[text] = status
                i += 1

    with running(server):
        threads = [threading.Thread(target=giver, args=(n,)) for n in range(GIVERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while sum(1 for s in list(answers.values()) if s == 201) < KILL_AFTER:
            assert time.monotonic() < deadline, answers
            time.sleep(0.01)
        server.kill()  # SIGKILL: no shutdown, no rollback, no checkpoint
        dead.set()
        for t in threads:
            t.join()
    assert {s for s in answers.values()} <= {0, 201}, answers

    # Restarted on the same files: it opens, recovers the WAL and serves.
    again = app_server(env, tmp_path / "log2")
    with running(again), api(again.base_url, d.tokens[d.givers[0]]) as c:
        assert (
            c.post("/recognitions", json=give_body(d, "Etter omstarten: takk!")).status_code == 201
        )
    stored = texts_in_db(url)
    accepted = {text for text, status in answers.items() if status == 201}
    assert accepted <= set(stored), accepted - set(stored)
    assert set(stored) <= set(answers) | {"Etter omstarten: takk!"}
    assert len(stored) == len(set(stored))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Each recognition whole: none without its recipient or its value.
        half = conn.execute(
            "SELECT count(*) FROM recognition r WHERE NOT EXISTS "
            "(SELECT 1 FROM recognitionrecipient x WHERE x.recognition_id = r.id) OR NOT EXISTS "
            "(SELECT 1 FROM recognitionvalue v WHERE v.recognition_id = r.id)"
        ).fetchone()
        assert half == (0,)
    finally:
        conn.close()
