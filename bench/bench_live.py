"""Storskjerm under a staff day's load, on loopback, bounded in time.

`python -m app serve` on a fresh SQLite file; one big screen and N phones listening to their
event streams; N anonymous phones (each its own cookie) answer once within `--spread` seconds.
Reported: answer accepted -> on the screen (p50/p95/p99), answers lost (must be 0), renders,
server CPU time.

    .venv/bin/python bench/bench_live.py                 # 400 phones, 10 s
    .venv/bin/python bench/bench_live.py --phones 100 --spread 5

Latency: the screen's frames count the participants; answer k (in the order the server
accepted them) is on the screen when a frame first shows at least k answers.
"""

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
COUNT = re.compile(r"(\d[\d\s\u00a0]*) (?:svar|answers?)")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(url: str) -> tuple[int, str, str]:
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from app.auth.service import create_api_token
    from app.live import service
    from app.migrate import upgrade
    from app.orgs.models import Organisation, Person, Role

    upgrade(url)
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        org = Organisation(slug="benk", name="Benk kommune", locale="nb")
        s.add(org)
        s.flush()
        curator = Person(org_id=org.id, email="k@benk.no", name="K", role=Role.curator)
        s.add(curator)
        s.flush()
        live = service.create_session(
            s, org, actor=curator, question="Hva gjør deg stolt?", kind="cloud",
            allow_anonymous=True,
        )  # fmt: skip
        service.set_state(s, live, "open", actor=curator)
        token = create_api_token(s, curator, "bench")[1]
        s.commit()
        assert live.id is not None
        return live.id, live.code, token


async def listen(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], seen: list, stop: asyncio.Event
) -> None:
    async with client.stream("GET", url, headers=headers, timeout=None) as response:
        data: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:])
            elif not line and data:
                seen.append((time.perf_counter(), "\n".join(data)))
                data = []
            if stop.is_set():
                return


async def phone(
    base: str, code: str, word: str, delay: float, accepted: list, failed: list
) -> None:
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        page = await c.get(f"/live/{code}")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token
        r = await c.post(
            f"/api/v1/live/{code}/answers",
            json={"text": word},
            headers={"X-CSRF-Token": token.group(1), "Origin": base},
        )
        if r.status_code == 200:
            accepted.append(time.perf_counter())
        else:
            failed.append(r.status_code)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    url = f"sqlite:///{tmp / 'live.db'}"
    live_id, code, token = setup(url)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update({
        "TOD_ENV": "production", "TOD_SECRET_KEY": "bench-live-secret-0123456789-abcdefghijklmnop",
        "TOD_SCHEDULER": "off", "TOD_DATABASE_URL": url, "TOD_BASE_URL": f"http://127.0.0.1:{port}",
        "TOD_MEDIA_URL": f"file:{tmp / 'media'}", "TOD_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    cmd = [sys.executable, "-m", "app", "serve", "--port", str(port)]
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        cmd = ["taskset", "-c", "0", *cmd]
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).text == "ok":
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        limits = httpx.Limits(
            max_connections=args.phones + 10, max_keepalive_connections=args.phones + 10
        )
        stop = asyncio.Event()
        screen: list = []
        watchers: list = []
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=httpx.Timeout(30, read=None)
        ) as c:
            auth = {"Authorization": f"Bearer {token}"}
            tasks = [
                asyncio.create_task(
                    listen(c, f"/api/v1/orgs/benk/live/{live_id}/stream", auth, screen, stop)
                )
            ]
            for _ in range(args.watchers):
                tasks.append(
                    asyncio.create_task(listen(c, f"/live/{code}/stream", {}, watchers, stop))
                )
            while not screen:  # the first frame (it loads the language's dictionaries)
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            cpu0 = _cpu(server.pid)
            accepted: list[float] = []
            failed: list[int] = []
            rng = random.Random(1)
            vocab = [
                "samarbeid",
                "samarbeidet",
                "kolleger",
                "engasjement",
                "stolthet",
                "glede",
                "faget",
                "brukerne",
                "tillit",
                "mestring",
            ]
            started = time.perf_counter()
            await asyncio.gather(*(
                phone(base, code, rng.choice(vocab), rng.uniform(0, args.spread), accepted, failed)
                for _ in range(args.phones)
            ))  # fmt: skip
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                counts = [_count(d) for _, d in screen]
                if counts and max(counts) >= len(accepted):
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = _cpu(server.pid) - cpu0
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        frames = [(t, _count(d)) for t, d in screen]
        latencies = []
        for k, at in enumerate(sorted(accepted), 1):
            shown = next((t for t, n in frames if n >= k and t >= at), None)
            if shown is not None:
                latencies.append(shown - at)
        final = max((n for _, n in frames), default=0)
        lost = len(accepted) - final
        print(
            f"phones {args.phones}, watchers {args.watchers}, spread {args.spread} s, elapsed {elapsed:.1f} s"
        )
        print(
            f"accepted {len(accepted)}, refused {len(failed)} {sorted(set(failed))}, on the screen {final}, lost {lost}"
        )
        print(f"screen frames {len(screen)}, phone frames {len(watchers)}")
        if latencies:
            print(
                "accepted -> screen: p50 {:.0f} ms, p95 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms".format(
                    *tuple(
                        1000 * x
                        for x in (
                            pct(latencies, 50),
                            pct(latencies, 95),
                            pct(latencies, 99),
                            max(latencies),
                        )
                    )
                )
            )
            print(f"mean {1000 * statistics.mean(latencies):.0f} ms")
        print(
            f"server CPU {cpu:.2f} s over {elapsed:.1f} s ({100 * cpu / elapsed:.0f} % of one core)"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)


def _count(data: str) -> int:
    m = COUNT.search(data)
    return int(re.sub(r"\D", "", m.group(1))) if m else 0


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phones", type=int, default=400)
    parser.add_argument("--watchers", type=int, default=400, help="phones listening to results")
    parser.add_argument("--spread", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))
