"""WriterGate: SQLite writers one at a time in arrival order; slow uploads queue only once sent."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from starlette.exceptions import HTTPException

from app.media.limits import BodyLimitMiddleware
from app.middleware import WriterGate


class Recorder:
    """An ASGI app that notes when each request starts and ends, and what body it read."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.bodies: dict[str, bytes] = {}
        self.inside = 0
        self.most_inside = 0

    async def __call__(self, scope, receive, send) -> None:
        name = scope["path"]
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.events.append(("start", name))
        body = b""
        try:
            if scope["method"] != "GET":
                while True:
                    message = await receive()
                    body += message.get("body", b"")
                    if not message.get("more_body"):
                        break
            await asyncio.sleep(0.02)
            status = 201
        except HTTPException as exc:
            status = exc.status_code
        self.bodies[name] = body
        self.events.append(("end", name))
        self.inside -= 1
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(method: str, path: str, length: int | None = None) -> dict:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    return {"type": "http", "method": method, "path": path, "headers": headers}


def chunks_receive(parts: list[bytes], delay: float = 0.0):
    queue = list(parts)

    async def receive():
        if not queue:
            await asyncio.sleep(3600)  # a client that stays connected
        await asyncio.sleep(delay)
        part = queue.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(queue)}

    return receive


async def call(app, sc, receive) -> int:
    statuses = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(sc, receive, send)
    return statuses[0] if statuses else 0


def run(coro):
    """Run on a thread of its own: a test before it on this worker (the browser tests'
    Playwright) may keep an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_writers_run_one_at_a_time_in_arrival_order():
    inner = Recorder()
    gate = WriterGate(inner, enabled=True)

    async def main():
        tasks = []
        for i in range(8):
            tasks.append(
                asyncio.create_task(call(gate, scope("POST", f"/w{i}"), chunks_receive([b"x" * i])))
            )
            await asyncio.sleep(0.001)
        return await asyncio.gather(*tasks)

    assert run(main()) == [201] * 8
    assert inner.most_inside == 1
    assert [n for e, n in inner.events if e == "start"] == [f"/w{i}" for i in range(8)]
    assert all(inner.bodies[f"/w{i}"] == b"x" * i for i in range(8))


def test_reads_do_not_queue_behind_writers():
    inner = Recorder()
    gate = WriterGate(inner, enabled=True)

    async def main():
        writes = [
            asyncio.create_task(call(gate, scope("POST", f"/w{i}"), chunks_receive([b"x"])))
            for i in range(3)
        ]
        await asyncio.sleep(0.005)
        await call(gate, scope("GET", "/r"), chunks_receive([]))
        # The read finished while writers were still queued.
        assert sum(1 for e, n in inner.events if e == "end" and n.startswith("/w")) < 3
        await asyncio.gather(*writes)

    run(main())
    assert inner.most_inside == 2  # one writer and the read


def test_a_slow_upload_does_not_hold_the_gate():
    inner = Recorder()
    gate = WriterGate(inner, enabled=True)
    big = [b"a" * 700_000, b"b" * 700_000, b"c" * 10]  # spooled to a file past 1 MB

    async def main():
        slow = asyncio.create_task(
            call(gate, scope("POST", "/slow"), chunks_receive(big, delay=0.1))
        )
        await asyncio.sleep(0.01)
        fast = await call(gate, scope("POST", "/fast"), chunks_receive([b"quick"]))
        assert fast == 201
        # The quick writer was served while the slow one was still sending.
        assert ("start", "/slow") not in inner.events
        assert await slow == 201

    run(main())
    assert inner.bodies["/slow"] == b"".join(big)
    assert inner.bodies["/fast"] == b"quick"


def test_a_body_over_the_limit_is_still_refused_by_the_app(settings_env):
    settings_env(max_upload_mb=1)
    inner = Recorder()
    app = BodyLimitMiddleware(WriterGate(inner, enabled=True))
    too_big = 2 * 1024 * 1024
    status = run(call(app, scope("POST", "/big", length=too_big), chunks_receive([b"x"])))
    assert status == 413
    assert inner.bodies["/big"] == b""


def test_a_client_gone_before_its_body_arrived_is_not_served():
    inner = Recorder()
    gate = WriterGate(inner, enabled=True)

    async def gone():
        return {"type": "http.disconnect"}

    assert run(call(gate, scope("POST", "/gone"), gone)) == 0
    assert inner.events == []


def test_postgresql_passes_straight_through():
    inner = Recorder()
    gate = WriterGate(inner, enabled=False)

    async def main():
        await asyncio.gather(
            *(call(gate, scope("POST", f"/w{i}"), chunks_receive([b"x"])) for i in range(4))
        )

    run(main())
    assert inner.most_inside == 4
