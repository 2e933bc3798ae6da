"""The till's sync with HQ: push the outbox, pull what changed elsewhere, authorise spends.

One module per job:

* :mod:`~pos_app.services.sync.client`: HQ's HTTP API (:class:`HQClient`), the errors,
  and where HQ is (the stored address and token, registering the till).
* :mod:`~pos_app.services.sync.push`: sending the outbox, in order, until HQ refuses.
* :mod:`~pos_app.services.sync.pull`: pulling HQ's changes by cursor and applying them
  (:class:`PullApplier`).
* :mod:`~pos_app.services.sync.snapshot`: members HQ sends whole: the first sync
  (:class:`SnapshotLoader`), members fetched at the counter (:class:`MemberFetcher`).
* :mod:`~pos_app.services.sync.session`: :class:`SyncClient`, one push and pull round.
* :mod:`~pos_app.services.sync.holds`: spending online (:func:`complete_sale_online`).
* :mod:`~pos_app.services.sync.worker`: :class:`SyncWorker`, the background thread.

The public names are re-exported here: import them from ``pos_app.services.sync``.
"""

from __future__ import annotations

from pos_app.services.retry import backoff_delay
from pos_app.services.sync.client import (
    ENV_TOKEN,
    ENV_URL,
    SETTING_CURSOR,
    SETTING_HQ_TILL,
    SETTING_LAST_SYNC,
    SETTING_TOKEN,
    SETTING_URL,
    HQAuthError,
    HQBusy,
    HQClient,
    HQResponseError,
    HQUnavailable,
    SyncConfig,
    SyncConfigError,
    SyncError,
    holds_data,
    load_sync_config,
    save_registration,
    save_sync_config,
)
from pos_app.services.sync.holds import (
    Hold,
    OnlineFlag,
    authorise_spend,
    complete_sale_online,
    confirm_spend,
    hold_id_for,
    release_spend,
)
from pos_app.services.sync.pull import MAX_PULL_PAGE, PullApplier, PullResult, SyncProgress
from pos_app.services.sync.push import (
    MAX_PUSH_BATCH,
    REFUSED_MARK,
    REFUSED_STATUSES,
    PushResult,
    RefusedEvent,
    pending_events,
)
from pos_app.services.sync.session import SyncClient, SyncResult, last_sync_time
from pos_app.services.sync.snapshot import (
    MemberFetcher,
    SnapshotApplier,
    SnapshotLoader,
    SnapshotProgress,
    SnapshotResult,
)
from pos_app.services.sync.worker import SyncState, SyncWorker, start_background_sync

__all__ = [
    "ENV_TOKEN",
    "ENV_URL",
    "MAX_PULL_PAGE",
    "MAX_PUSH_BATCH",
    "REFUSED_MARK",
    "REFUSED_STATUSES",
    "SETTING_CURSOR",
    "SETTING_HQ_TILL",
    "SETTING_LAST_SYNC",
    "SETTING_TOKEN",
    "SETTING_URL",
    "HQAuthError",
    "HQBusy",
    "HQClient",
    "HQResponseError",
    "HQUnavailable",
    "Hold",
    "MemberFetcher",
    "OnlineFlag",
    "PullApplier",
    "PullResult",
    "PushResult",
    "RefusedEvent",
    "SnapshotApplier",
    "SnapshotLoader",
    "SnapshotProgress",
    "SnapshotResult",
    "SyncClient",
    "SyncConfig",
    "SyncConfigError",
    "SyncError",
    "SyncProgress",
    "SyncResult",
    "SyncState",
    "SyncWorker",
    "authorise_spend",
    "backoff_delay",
    "complete_sale_online",
    "confirm_spend",
    "hold_id_for",
    "holds_data",
    "last_sync_time",
    "load_sync_config",
    "pending_events",
    "release_spend",
    "save_registration",
    "save_sync_config",
    "start_background_sync",
]
