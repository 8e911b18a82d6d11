"""The outbox loop shared by e-mail and webhooks: retries with backoff, leases, unreachable.

A request only writes outbox rows; a scheduled job delivers them, one row at a time, each in
its own short transactions (claim and lease, then send outside any transaction, then record).
What is the same for every outbox lives here:

- `Retry`: how often and how long apart a row is tried. The wait doubles from `first`,
  jittered by up to a quarter so that rows that failed together do not come back together,
  and is capped; after `max_attempts` it is given up. A claimed row is *leased*: its due time
  moves `lease` ahead, longer than one attempt may take, so no other run takes it meanwhile
  and a crash leaves it due again that much later.
- `drain`: the loop. A receiver that did not answer at all (refused, timed out, dropped) is
  left alone for the rest of the run: its other rows would fail the same way, and must not
  hold up the rest.
- `smtp_unreachable`, `mail_turn`: which e-mail errors mean the server did not answer at all.
"""

import logging
import random
import smtplib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Retry:
    """How an outbox retries a row."""

    max_attempts: int
    first: timedelta  # the wait after the first failed attempt
    cap: timedelta  # the longest wait
    lease: timedelta  # how long a claimed row is not due for anyone else

    def backoff(self, attempts: int) -> timedelta:
        """Wait before try number `attempts + 1`: doubling from `first`, jittered, capped."""
        base = self.first * 2 ** max(0, min(attempts - 1, 20))
        return min(base * (1 + random.random() / 4), self.cap)

    def leased_until(self, now: datetime) -> datetime:
        return now + self.lease

    def gave_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def log_failure(self, log: logging.Logger, what: str, attempts: int, error: str) -> None:
        """One line per failed attempt; an error once the row is given up."""
        log.log(
            logging.ERROR if self.gave_up(attempts) else logging.WARNING,
            "%s: attempt %d of %d failed: %s",
            what,
            attempts,
            self.max_attempts,
            error,
        )


@dataclass(frozen=True)
class Turn:
    """What one turn of the loop did: delivered, or which receiver did not answer at all."""

    delivered: bool = False
    unreachable: Hashable | None = None


HANDLED = Turn()  # a row dealt with without sending (skipped, rescheduled, failed to render)


def drain(batch: int, turn: Callable[[set[Hashable]], Turn | None]) -> int:
    """Run up to `batch` turns; returns how many rows were delivered.

    `turn(unreachable)` claims and handles the next due row, leaving alone the receivers in
    `unreachable`; None when nothing (more) is due for this run.
    """
    delivered = 0
    unreachable: set[Hashable] = set()
    for _ in range(batch):
        done = turn(unreachable)
        if done is None:
            break
        if done.delivered:
            delivered += 1
        elif done.unreachable is not None:
            unreachable.add(done.unreachable)
    return delivered


def smtp_unreachable(exc: BaseException) -> bool:
    """No answer at all (refused, timeout, dropped): the next messages would fail the same way."""
    return isinstance(exc, OSError) and not isinstance(
        exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
    )


MAIL_SERVER = "smtp"  # the one receiver of every e-mail: when it does not answer, mail waits


def mail_turn(error: BaseException | None) -> Turn:
    """What sending one e-mail did: delivered, failed, or the mail server did not answer."""
    if error is None:
        return Turn(delivered=True)
    return Turn(unreachable=MAIL_SERVER if smtp_unreachable(error) else None)
