"""Stores and tills in the console: each till's last push, how long ago that was (its
lag: what it sold since is still on the till), its clock, and revoking its token."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from pos_app.hq import audit
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict, NotFound
from pos_app.hq.models import Store, StoreManager, Till

STALE = dt.timedelta(minutes=15)


def stores_page(db: HQDatabase, now: dt.datetime) -> list[dict[str, Any]]:
    """Every store with its tills and managers."""
    with db.read() as s:
        managers = dict(
            s.execute(
                select(StoreManager.store_code, func.count())
                .where(StoreManager.active.is_(True))
                .group_by(StoreManager.store_code)
            ).all()
        )
        tills: dict[str, list[dict[str, Any]]] = {}
        for till in s.scalars(select(Till).order_by(Till.id)):
            lag = now - till.last_push_at if till.last_push_at else None
            tills.setdefault(till.store_code, []).append(
                {
                    "id": till.id,
                    "code": till.till_code,
                    "active": till.active,
                    "last_push_at": till.last_push_at,
                    "lag_minutes": int(lag.total_seconds() // 60) if lag is not None else None,
                    "stale": lag is None or lag > STALE,
                    "skew": till.last_skew_seconds,
                }
            )
        return [
            {
                "code": st.code,
                "name": st.name,
                "active": st.active,
                "managers": int(managers.get(st.code, 0)),
                "tills": tills.get(st.code, []),
            }
            for st in s.scalars(select(Store).order_by(Store.code))
        ]


def revoke_till(db: HQDatabase, till_id: str, now: dt.datetime, *, actor: str) -> None:
    """The till's token answers 401 from now on (the row stays, inactive).

    Raises:
        NotFound: no such till.
        Conflict: revoked already.
    """
    with db.write() as s:
        till = s.get(Till, till_id)
        if till is None:
            raise NotFound(f"no till {till_id}")
        if not till.active:
            raise Conflict(f"till {till_id} is revoked already")
        till.active = False
        s.flush()
        audit.record(s, now, actor, "till.revoke", till_id, store=till.store_code)
