"""The screens' broadcast inside one process, fed by commits here and (on PostgreSQL) by
NOTIFY from every other process.

A change marks its session dirty. A session with listeners in this process is rendered at
most every `INTERVAL` seconds (the first change after a quiet spell at once), by one render
that reads the committed state; the frame's bytes (an encoded SSE event whose id is the
session's version) are handed to every listener as they are. A frame is the whole state of
the screen, not a delta: a listener that reconnects with `Last-Event-ID` gets the current
frame unless it already has that version, so nothing is missed and nothing counted twice.

This is per-process state by nature (open connections live in one process); nothing in it
decides what is stored.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlmodel import Session

log = logging.getLogger("tod.live")

CHANNEL = "tod_live"
INTERVAL = 0.25  # at most four screen updates a second per session
PING_SECONDS = 15.0
PING = b": ping\n\n"


@dataclass(frozen=True)
class Frame:
    version: int
    screen: bytes  # the big screen's results
    phone: bytes  # what a participant's phone shows
    gone: bool = False  # the session no longer exists


Renderer = Callable[[int], Frame]


class _Channel:
    def __init__(self, session_id: int, render: Renderer) -> None:
        self.session_id = session_id
        self.render = render
        self.frame: Frame | None = None
        self.listeners = 0
        self.dirty = False
        self.rendering = False
        self.last_render = 0.0
        self.changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def publish(self, frame: Frame) -> None:
        if self.frame is not None and frame.version == self.frame.version and not frame.gone:
            return
        self.frame = frame
        self.changed.set_result(None)
        self.changed = asyncio.get_running_loop().create_future()


class Hub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channels: dict[int, _Channel] = {}
        self._closing = False
        self._pg_task: asyncio.Task[None] | None = None
        self._pg_url: str | None = None
        self._pg_ready: asyncio.Event | None = None
        self.renders = 0  # for the benchmark and the tests

    # --- changes ------------------------------------------------------------------------

    def changed(self, session_id: int) -> None:
        """Thread-safe: a commit in a worker thread or a NOTIFY marks a session dirty."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _running(loop):
            self._dirty(session_id)
        else:
            loop.call_soon_threadsafe(self._dirty, session_id)

    def _dirty(self, session_id: int) -> None:
        channel = self._channels.get(session_id)
        if channel is None:
            return
        channel.dirty = True
        if not channel.rendering:
            channel.rendering = True
            asyncio.get_running_loop().create_task(self._render(channel))

    async def _render(self, channel: _Channel) -> None:
        try:
            while channel.dirty and not self._closing:
                wait = channel.last_render + INTERVAL - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                channel.dirty = False
                channel.last_render = time.monotonic()
                try:
                    frame = await asyncio.to_thread(channel.render, channel.session_id)
                except Exception:
                    log.exception("live: rendering session %s failed", channel.session_id)
                    continue
                self.renders += 1
                channel.publish(frame)
        finally:
            channel.rendering = False

    # --- listeners ----------------------------------------------------------------------

    async def listen(
        self,
        session_id: int,
        render: Renderer,
        *,
        last_event_id: str | None,
        phone: bool = False,
        database_url: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The bytes of one SSE stream: the current frame unless `last_event_id` has it, then
        every new frame, a ping comment when quiet; it ends on shutdown."""
        if database_url:
            self.start_listening(database_url)
            assert self._pg_ready is not None
            # Render the first frame only once this process hears every later change.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pg_ready.wait(), 5)
        self._loop = asyncio.get_running_loop()
        channel = self._channels.get(session_id)
        if channel is None:
            channel = self._channels[session_id] = _Channel(session_id, render)
        channel.listeners += 1
        try:
            if channel.frame is None:
                channel.publish(await asyncio.to_thread(render, session_id))
            sent = last_event_id
            while not self._closing:
                frame = channel.frame
                assert frame is not None
                if str(frame.version) != sent or frame.gone:
                    sent = str(frame.version)
                    yield frame.phone if phone else frame.screen
                    if frame.gone:
                        return
                waiting = channel.changed
                try:
                    await asyncio.wait_for(asyncio.shield(waiting), PING_SECONDS)
                except TimeoutError:
                    yield PING
        finally:
            channel.listeners -= 1
            if channel.listeners == 0 and self._channels.get(session_id) is channel:
                del self._channels[session_id]

    def listeners(self, session_id: int) -> int:
        channel = self._channels.get(session_id)
        return channel.listeners if channel else 0

    def open(self) -> None:
        """The app starts (again: tests start many in one process)."""
        self._closing = False

    def close(self) -> None:
        """End every stream (the server is stopping: uvicorn waits for open responses)."""
        self._closing = True
        for channel in list(self._channels.values()):
            if not channel.changed.done():
                channel.changed.set_result(None)
        if self._pg_task is not None:
            self._pg_task.cancel()
            self._pg_task = None

    def close_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.close)
        else:
            self._closing = True

    # --- PostgreSQL ---------------------------------------------------------------------

    def start_listening(self, database_url: str) -> None:
        """LISTEN for other processes' changes (at start-up, so a screen never waits for it)."""
        self._loop = asyncio.get_running_loop()
        if self._pg_task is None or self._pg_task.done():
            self._pg_url = database_url
            self._pg_ready = asyncio.Event()
            self._pg_task = self._loop.create_task(self._pg_listen())

    async def _pg_listen(self) -> None:
        import psycopg

        assert self._pg_url is not None
        conninfo = self._pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
        delay = 0.5
        while not self._closing:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    assert self._pg_ready is not None
                    self._pg_ready.set()
                    # Notifications sent while this process was not listening are lost:
                    # whatever a screen shows is rendered again from the database.
                    for session_id in list(self._channels):
                        self._dirty(session_id)
                    async for note in conn.notifies():
                        with contextlib.suppress(ValueError):
                            self._dirty(int(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live: LISTEN connection lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


HUB = Hub()


def announce(session: Session, session_id: int) -> None:
    """After this transaction commits, screens of the session render again: here directly,
    and in every other process through NOTIFY (PostgreSQL delivers it only on commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(session_id)}
        )
    _after_commit(session, session_id)


def _after_commit(session: Session, session_id: int) -> None:
    pending: set[int] = session.info.setdefault("live_pending", set())
    if not pending:

        def fire(s: Any) -> None:
            ids = s.info.pop("live_pending", set())
            for i in ids:
                HUB.changed(i)

        def drop(s: Any, *_: Any) -> None:
            s.info.pop("live_pending", None)

        event.listen(session, "after_commit", fire, once=True)
        event.listen(session, "after_rollback", drop, once=True)
    pending.add(session_id)
