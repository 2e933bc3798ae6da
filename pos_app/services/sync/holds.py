"""Spending online: points held at HQ for a sale.

:func:`complete_sale_online` asks HQ for a hold on the points before the sale, commits
the sale, then posts the hold (or voids it when the sale fails). Only a sale HQ
authorised this way is free of the offline allowance; see :class:`OnlineFlag`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pos_app.core.errors import QT_TRANSLATE_NOOP, InsufficientPoints
from pos_app.core.quote import BasketLine
from pos_app.services import checkout
from pos_app.services.context import TillContext
from pos_app.services.sync.client import HQClient, HQResponseError, HQUnavailable, SyncError

log = logging.getLogger(__name__)


class OnlineFlag:
    """The context's ``online`` callable, kept up to date by the sync worker.

    ``reachable`` says whether HQ answers. Calling the flag says whether checkout may
    drop the offline allowance, which is only safe when HQ authorised the spend: by
    default that is never for a plain sale (:func:`complete_sale_online` lifts it for
    the sale HQ holds points for). ``lift_cap=True`` makes reachability alone lift it,
    which leaves two tills free to spend the same points between two pulls.

    Attributes:
        lift_cap: Whether reachability alone lifts the offline allowance.
    """

    def __init__(self, *, reachable: bool = False, lift_cap: bool = False) -> None:
        self._reachable = threading.Event()
        if reachable:
            self._reachable.set()
        self.lift_cap = lift_cap

    @property
    def reachable(self) -> bool:
        """HQ answered the last request."""
        return self._reachable.is_set()

    def set_reachable(self, value: bool) -> None:
        """Record whether HQ answered."""
        if value:
            self._reachable.set()
        else:
            self._reachable.clear()

    def __call__(self) -> bool:
        return self.lift_cap and self.reachable


@dataclass(frozen=True)
class Hold:
    """Points HQ reserved for a sale.

    Attributes:
        id: The hold id (derived from the sale id).
        member_id: The member (HQ's canonical id).
        points: Points reserved.
        status: ``active``, ``posted``, ``settled``, ``voided`` or ``expired``.
        available: The member's points left at HQ after every open hold.
    """

    id: str
    member_id: str
    points: int
    status: str
    available: int

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Hold:
        """From HQ's ``HoldOut``."""
        return cls(
            str(body["id"]),
            str(body["member_id"]),
            int(body["points"]),
            str(body["status"]),
            int(body.get("available", 0)),
        )


def hold_id_for(sale_id: str) -> str:
    """The hold id of a sale (a retried sale asks for the same hold)."""
    return f"{sale_id}.hold"


def authorise_spend(
    client: HQClient, member_id: str, points: int, sale_id: str, ttl_seconds: int = 300
) -> Hold:
    """Reserve ``points`` of the member at HQ for ``sale_id``.

    Raises:
        InsufficientPoints: HQ's balance less other holds does not cover them.
        HQUnavailable: HQ is away (sell under the offline allowance instead).
        HQResponseError: e.g. 404 when HQ does not know the member yet.
    """
    try:
        body = client.create_hold(hold_id_for(sale_id), member_id, points, sale_id, ttl_seconds)
    except HQResponseError as exc:
        if exc.code == "insufficient_points":
            raise InsufficientPoints(
                QT_TRANSLATE_NOOP(
                    "Errors", "Not enough points: {points} needed, {available} available."
                ),
                points=points,
                available=max(int(exc.facts.get("available", 0)), 0),
            ) from None
        raise
    return Hold.from_json(body)


def confirm_spend(client: HQClient, hold: Hold, sale_id: str) -> Hold:
    """Tell HQ the sale took the held points (they stay reserved until it arrives)."""
    return Hold.from_json(client.post_hold(hold.id, sale_id))


def release_spend(client: HQClient, hold: Hold) -> Hold | None:
    """Give the held points back (the sale failed). None when HQ could not be told:
    the hold then lapses by itself."""
    try:
        return Hold.from_json(client.void_hold(hold.id))
    except SyncError as exc:
        log.warning("could not void hold %s: %s", hold.id, exc)
        return None


def complete_sale_online(
    ctx: TillContext,
    client: HQClient | None,
    *,
    sale_id: str,
    lines: Sequence[BasketLine],
    member_id: str | None,
    tenders: Sequence[checkout.TenderInput],
    cashier_id: str,
    coupon_codes: Sequence[str] = (),
    points_to_use: int = 0,
    flag: OnlineFlag | None = None,
    ttl_seconds: int = 300,
) -> checkout.SaleResult:
    """:func:`pos_app.services.checkout.complete_sale` with the spend authorised at HQ.

    With points to spend and HQ reachable: hold the points at HQ, commit the sale free
    of the offline allowance, then post the hold; a failed sale voids it. When HQ is
    away, or does not know the member yet, the sale goes ahead under the offline
    allowance (and ``flag`` learns HQ is away).

    Raises:
        InsufficientPoints: HQ says the member does not have the points (nothing written).
        Whatever :func:`~pos_app.services.checkout.complete_sale` raises.
    """
    kwargs: dict[str, Any] = {
        "sale_id": sale_id,
        "lines": lines,
        "member_id": member_id,
        "tenders": tenders,
        "cashier_id": cashier_id,
        "coupon_codes": coupon_codes,
        "points_to_use": points_to_use,
    }
    if client is None or member_id is None or points_to_use <= 0:
        return checkout.complete_sale(ctx, **kwargs)
    try:
        hold = authorise_spend(client, member_id, points_to_use, sale_id, ttl_seconds)
    except HQUnavailable:
        if flag is not None:
            flag.set_reachable(False)
        return checkout.complete_sale(ctx, **kwargs)
    except HQResponseError as exc:
        if exc.status != 404:
            raise
        return checkout.complete_sale(ctx, **kwargs)  # not at HQ yet: offline rules
    if flag is not None:
        flag.set_reachable(True)
    authorised = dataclasses.replace(ctx, online=lambda: True)
    try:
        result = checkout.complete_sale(authorised, **kwargs)
    except BaseException:
        release_spend(client, hold)
        raise
    try:
        confirm_spend(client, hold, sale_id)
    except SyncError as exc:  # the sale's own push settles the hold anyway
        log.warning("could not post hold %s: %s", hold.id, exc)
    return result
