"""This process's witnessing thread: it wakes on every checkpoint this process signs,
and every `witness_retry_seconds`, and sends the latest checkpoint to each witness
that has not cosigned it (`witnessing.submit`). Ceremonies only wake it.

Its first round asks every witness even if it has cosigned already (the probe for a
restored database), unless a sibling worker of the same start has heard from it
since this process was created: the workers of one service share that question. A
probe that found the witness down (or backing off) is owed until it answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.ledger.guard import raise_alarm
from app.ledger.keys import Signer
from app.ledger.policy import Policy, PolicyWitness
from app.ledger.witnessing import (
    Outcome,
    Submitted,
    ahead_of_us,
    ensure_states,
    load_policy,
    submit,
)
from app.types import utcnow

log = logging.getLogger("shuangsui.witnessing")


class Witnessing:
    """This process's witnessing thread: wakes on every new checkpoint and periodically."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: Policy,
        *,
        interval: float = 30.0,
        timeout: float = 10.0,
        then: Callable[[], None] | None = None,
        data_dir: Path | None = None,
        started: datetime | None = None,
    ) -> None:
        self.factory = factory
        self.data_dir = data_dir
        self.policy = policy
        self.interval = interval
        self.then = then
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Witnesses not yet probed since this process started: a probe that found the
        # witness unreachable, or busy with a sibling, is asked again in later rounds.
        self._unprobed = {w.vkey for w in policy.witnesses}
        self.started = started or utcnow()
        with factory() as session:
            ensure_states(session, policy)
            session.commit()

    @property
    def witnesses(self) -> list[PolicyWitness]:
        return [w for w in self.policy.witnesses if w.url is not None]

    def run_once(self) -> list[Outcome]:
        """One round: every witness with a URL that is due (all of them, until each has
        answered since this process started)."""
        outcomes = []
        for witness in self.witnesses:
            probe = witness.vkey in self._unprobed
            outcome = submit(
                self.factory, witness, self.http, probe=probe, answered_since=self.started
            )
            if outcome.status in (Submitted.COSIGNED, Submitted.CURRENT, Submitted.AHEAD):
                self._unprobed.discard(witness.vkey)
            outcomes.append(outcome)
        if self.data_dir is not None and any(o.status == Submitted.AHEAD for o in outcomes):
            # A witness has cosigned more of this log than the database holds: the
            # same alarm as a rolled-back database, kept where every worker sees it.
            with self.factory() as session:
                alarm = ahead_of_us(session)
            if alarm is not None:
                raise_alarm(self.data_dir, alarm)
        if self.then is not None and any(o.status == Submitted.COSIGNED for o in outcomes):
            self.then()
        return outcomes

    def poke(self) -> None:
        """A checkpoint was signed: send it (from the thread, never from the caller)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="witnessing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.http.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the thread must outlive a database hiccup
                log.exception("witnessing round failed")
            self._wake.wait(self.interval)
            self._wake.clear()


def start_witnessing(
    settings: Settings, factory: sessionmaker[Session], signer: Signer
) -> Witnessing | None:
    """The witnessing thread of this process, if a witness policy is configured."""
    if settings.witness_policy is None:
        return None
    policy = load_policy(settings.witness_policy, signer.published_keys)
    client = Witnessing(
        factory,
        policy,
        interval=settings.witness_retry_seconds,
        data_dir=settings.data_dir,
        started=process_started(),
    )
    client.start()
    return client


def process_started() -> datetime:
    """When this process was created (not when it got here: workers spawned together
    import at different speeds, and a sibling may have probed meanwhile)."""
    return datetime.fromtimestamp(psutil.Process().create_time(), UTC)
