"""One sync round for one till: check who HQ thinks the till is, push, then pull.

:class:`SyncClient` joins :class:`~pos_app.services.sync.push.OutboxPusher` and
:class:`~pos_app.services.sync.pull.ChangePuller` over one :class:`HQClient`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pos_app.services.context import TillContext
from pos_app.services.sync.client import SETTING_LAST_SYNC, HQClient, SyncConfigError
from pos_app.services.sync.pull import MAX_PULL_PAGE, ChangePuller, PullResult, SyncProgress, _when
from pos_app.services.sync.push import MAX_PUSH_BATCH, OutboxPusher, PushResult
from pos_app.services.sync.snapshot import MEMBERS_PER_TRANSACTION
from pos_app.store import repo


@dataclass(frozen=True)
class SyncResult:
    """One push and pull."""

    push: PushResult
    pull: PullResult
    finished_at: dt.datetime


class SyncClient(OutboxPusher, ChangePuller):
    """Push and pull for one till through one :class:`HQClient`.

    Attributes:
        ctx: The till.
        client: The HTTP client.
        push_batch: Events per push request.
        pull_page: Changes per pull page.
        snapshot_batch: Members per transaction of a first-sync snapshot.
        on_progress: Called after every pull page (on the calling thread).
        retry_refused: Send again the events HQ refused before (after someone fixed
            the cause); by default a refused event stays put and blocks the push.
        identity: HQ's ``/v1/me`` answer, once checked.
        clock_skew_seconds: This till's clock minus HQ's, measured at that check.
    """

    def __init__(
        self,
        ctx: TillContext,
        client: HQClient,
        *,
        push_batch: int = 100,
        pull_page: int = 500,
        on_progress: Callable[[SyncProgress], None] | None = None,
        retry_refused: bool = False,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.retry_refused = retry_refused
        self.push_batch = max(1, min(push_batch, MAX_PUSH_BATCH))
        self.pull_page = max(1, min(pull_page, MAX_PULL_PAGE))
        self.snapshot_batch = MEMBERS_PER_TRANSACTION
        self.on_progress = on_progress
        self.identity: dict[str, Any] | None = None
        self.clock_skew_seconds: float | None = None

    # -- identity -----------------------------------------------------------------------
    def verify_identity(self) -> dict[str, Any]:
        """Ask HQ who the token is and check it matches this till (once per client).

        Raises:
            SyncConfigError: the token is another till's, or the phone keys differ
                (members registered here would never be found elsewhere).
        """
        if self.identity is not None:
            return self.identity
        asked = self.ctx.now()
        me = self.client.me()
        answered = self.ctx.now()
        hq_time = _when(me.get("hq_time"))
        if hq_time is not None:
            self.clock_skew_seconds = ((asked + (answered - asked) / 2) - hq_time).total_seconds()
        if me.get("kind") != "till":
            raise SyncConfigError(f"the token is a {me.get('kind')} credential, not a till's")
        if (me.get("store_id"), me.get("till_id")) != (self.ctx.store_id, self.ctx.till_id):
            raise SyncConfigError(
                f"the token is till {me.get('store_id')}-{me.get('till_id')} at HQ but this "
                f"till is {self.ctx.store_id}-{self.ctx.till_id}: run pos-app register-till"
            )
        key = me.get("phone_key")
        if key and key != self.ctx.phone_key.hex():
            raise SyncConfigError(
                "this till's phone-hash key is not HQ's: run pos-app register-till before "
                "registering members"
            )
        self.identity = me
        return me

    def sync_once(self, *, stop: threading.Event | None = None) -> SyncResult:
        """Check the identity, push, then pull; record the time of a complete round.

        After HQ was restored from a backup (the pull restarted), push and pull again:
        the events HQ lost go back at once, then the till takes HQ's snapshot again.
        """
        self.verify_identity()
        pushed = self.push(stop=stop)
        pulled = self.pull(stop=stop)
        if pulled.restarted:
            pushed = self.push(stop=stop)
            again = self.pull(stop=stop)
            pulled = dataclasses.replace(
                again,
                restarted=True,
                changes=pulled.changes + again.changes,
                pages=pulled.pages + again.pages,
            )
        finished = self.ctx.now()
        with self.ctx.db.write() as session:
            repo.put_setting(session, SETTING_LAST_SYNC, finished.isoformat())
        return SyncResult(pushed, pulled, finished)


def last_sync_time(ctx: TillContext) -> dt.datetime | None:
    """When the till last finished a push and pull, or None."""
    with ctx.db.read() as session:
        value = repo.get_setting(session, SETTING_LAST_SYNC)
    return dt.datetime.fromisoformat(value) if value else None
