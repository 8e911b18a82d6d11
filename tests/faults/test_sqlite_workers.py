"""`TOD_WORKERS` > 1 on SQLite is allowed, and safe: the worker processes share the file through
WAL, each write transaction begins IMMEDIATE and waits its turn (busy timeout, then a 503),
and every job is idempotent in the database. Several writers spread over the workers: every
201 is stored once, nothing else, no 5xx and no "database is locked"."""

import threading

import pytest

from tests.faults.support import (
    api,
    app_server,
    give_body,
    running,
    server_env,
    set_up,
    texts_in_db,
)

pytestmark = [pytest.mark.xdist_group("faults_sqlite_workers"), pytest.mark.slow]
WRITERS = 6
EACH = 8


def test_two_workers_on_one_sqlite_file_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'tod.db'}"
    d = set_up(url)
    server = app_server(server_env(url, tmp_path, TOD_WORKERS="2"), tmp_path / "log")
    answers: dict[str, int] = {}
    lock = threading.Lock()

    def writer(n: int) -> None:
        with api(server.base_url, d.tokens[d.givers[n]]) as c:
            for i in range(EACH):
                text = f"Skriver {n} takker for innsats {i}."
                status = c.post("/recognitions", json=give_body(d, text, n=i)).status_code
                with lock:
                    answers[text] = status

    with running(server):
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert set(answers.values()) == {201}, answers
    stored = texts_in_db(url)
    assert sorted(stored) == sorted(answers)
    log = server.log()
    assert log.count("Application startup complete") == 2  # two worker processes served
    assert "database is locked" not in log and '"status": 5' not in log, log[-3000:]
