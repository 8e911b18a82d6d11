"""PostgreSQL stopped in the middle of a run and started again: 503 (never a 500) while it is
down, /readyz says so, the app recovers by itself, and no accepted recognition is lost."""

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faults.support import (
    ORG,
    StoppableCluster,
    api,
    app_server,
    give_body,
    running,
    server_env,
    set_up,
    texts_in_db,
)

pytestmark = [pytest.mark.xdist_group("faults_postgres_down"), pytest.mark.slow]
CLIENTS = 4


@pytest.fixture
def cluster() -> Iterator[StoppableCluster]:
    c = StoppableCluster()
    c.start()
    try:
        yield c
    finally:
        c.destroy()


def _wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_postgres_restarted_mid_run_loses_nothing_accepted(cluster, tmp_path):
    d = set_up(cluster.url)
    server = app_server(server_env(cluster.url, tmp_path), tmp_path / "log")
    answers: dict[str, list[int]] = {}  # text -> status codes it got
    lock = threading.Lock()
    stop = threading.Event()

    def giver(n: int) -> None:
        with api(server.base_url, d.tokens[d.givers[n]], timeout=15) as c:
            i = 0
            while not stop.is_set():
                text = f"Giver {n} takker for innsats nummer {i}."
                try:
                    status = c.post("/recognitions", json=give_body(d, text, n=i)).status_code
                except httpx.TransportError:
                    status = 0
                with lock:
                    answers.setdefault(text, []).append(status)
                i += 1
                time.sleep(0.02)

    def statuses() -> set[int]:
        with lock:
            return {s for codes in answers.values() for s in codes}

    with running(server):
        threads = [threading.Thread(target=giver, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            _wait_for(lambda: 201 in statuses())
            cluster.pause()
            down_since = len(answers)
            _wait_for(lambda: len(answers) > down_since + 2 * CLIENTS)
            ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["ready"] is False
            page = httpx.get(
                f"{server.base_url}/{ORG}/",
                cookies={"tod_session": d.sessions[d.givers[0]]},
                headers={"Accept-Language": "nb"},
                timeout=10,
            )
            assert page.status_code == 503 and page.headers["retry-after"] == "5"
            assert "Tjenesten er utilgjengelig et øyeblikk" in page.text
            with lock:
                during = {s for codes in list(answers.values())[down_since:] for s in codes}
            assert 503 in during
            cluster.resume()
            back = len(answers)
            _wait_for(lambda: httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200)
            _wait_for(lambda: 201 in {s for c in list(answers.values())[back:] for s in c})
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert httpx.get(f"{server.base_url}/readyz", timeout=10).json()["ready"] is True

    every = statuses()
    assert every <= {201, 503}, every  # never a 500, never a dropped connection
    accepted = {text for text, codes in answers.items() if 201 in codes}
    stored = texts_in_db(cluster.url)
    assert len(stored) == len(set(stored))
    assert accepted <= set(stored), accepted - set(stored)
    # A 503 for a request whose COMMIT was cut off may still have been saved; nothing else is.
    assert set(stored) <= set(answers)
    log = server.log()
    assert "Traceback" not in log and '"status": 500' not in log, log[-3000:]
