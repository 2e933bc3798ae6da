"""Request and response bodies of HQ's API, and the event payloads tills push.

Event payloads mirror what the till writes into its outbox (``pos_app/services``:
``sale``, ``refund``, ``member_registered``, ``adjustment``, ``expiry``). They are read
tolerantly (unknown fields are ignored, so a newer till can add some) but every value is
bounded: ids are short and plain, integers are strict and within what the database
stores, text carries no NUL character. A value outside these bounds is answered with 422
naming the field, never with a server error.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from pos_app.core.entries import PUSHED_KINDS, check_sign

MAX_POINTS = 1_000_000_000
MAX_FEN = 1_000_000_000_000


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
]
Code = Annotated[
    str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
Version = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)]
Short = Annotated[str, StringConstraints(max_length=32), AfterValidator(_no_nul)]
Name = Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_nul)]
LongName = Annotated[str, StringConstraints(max_length=128), AfterValidator(_no_nul)]
Text = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, strict=True)]
Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS, strict=True)]
PosPoints = Annotated[int, Field(gt=0, le=MAX_POINTS, strict=True)]
NonNegPoints = Annotated[int, Field(ge=0, le=MAX_POINTS, strict=True)]
Quantity = Annotated[int, Field(gt=0, le=1_000_000, strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
PhoneHashHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
Last4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _plausible(value: dt.datetime) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("the time must be between the years 2000 and 2199")
    return value


When = Annotated[AwareDatetime, AfterValidator(_plausible)]

ENTRY_KINDS = PUSHED_KINDS
"""The entry kinds a till or a channel may push: every kind of ``core.entries`` but the
ones HQ alone writes (merges)."""
if TYPE_CHECKING:
    PushedKind = str
else:
    PushedKind = Literal[ENTRY_KINDS]  # 422 names the kinds allowed


class Payload(BaseModel):
    """Base of event payloads: unknown fields ignored, values bounded."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Body(BaseModel):
    """Base of request bodies: unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- event payloads ---------------------------------------------------------------------


class EntryIn(Payload):
    """A ledger entry as the till's ``entry_payload`` writes it."""

    id: Id
    member_id: Id
    kind: PushedKind
    points: Points
    created_at: When
    sale_id: Id | None = None
    refund_id: Id | None = None
    rule_set_version: Version | None = None
    actor_id: Name | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _signed(self) -> EntryIn:
        check_sign(self.kind, self.points)
        return self


class MemberCodeRef(Payload):
    """The signed member code that identified a sale's member (``sale.member_code``):
    HQ records its use and flags it if another till used it first."""

    key_id: Annotated[int, Field(ge=0, le=0xFFFF, strict=True)]
    nonce: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
    expires_at: When


class SaleHeader(Payload):
    """``payload.sale`` of a ``sale`` event."""

    id: Id
    receipt_no: Short | None = None
    store_id: Code | None = None
    till_id: Code | None = None
    cashier_id: Name | None = None
    member_id: Id | None = None
    created_at: When
    total_fen: Fen
    points_used: NonNegPoints = 0
    points_earned: NonNegPoints = 0
    cash_due_fen: Fen
    rule_set_version: Version
    coupons: Annotated[list[Short], Field(max_length=20)] = []
    member_code: MemberCodeRef | None = None


class SaleLineIn(Payload):
    """One line of ``payload.lines``."""

    id: Id
    line_no: Annotated[int, Field(ge=1, le=10_000, strict=True)]
    sku: Annotated[str, StringConstraints(min_length=1, max_length=32), AfterValidator(_no_nul)]
    name: LongName = ""
    category: Short = ""
    quantity: Quantity
    unit_price_fen: Fen
    line_discount_fen: Fen = 0
    is_reward: StrictBool = False
    #: A line sold at a member (tier) price: its shelf and member prices per unit, from
    #: which HQ's re-quote prices it for the member's tier (core.quote.at_tier_prices).
    shelf_price_fen: Fen | None = None
    member_price_fen: Fen | None = None


class TenderIn(Payload):
    """One payment of ``payload.tenders``."""

    method: Annotated[str, StringConstraints(min_length=1, max_length=16), AfterValidator(_no_nul)]
    amount_fen: Fen


class RemoteBonusIn(Payload):
    """A bonus the till could not post itself (the referrer is not on this till)."""

    id: Id
    member_id: Id
    kind: Literal["referral_referrer", "referral_friend", "birthday_gift"]
    points: PosPoints


class SalePayload(Payload):
    """A ``sale`` event."""

    sale: SaleHeader
    lines: Annotated[list[SaleLineIn], Field(min_length=1, max_length=500)]
    tenders: Annotated[list[TenderIn], Field(max_length=20)] = []
    entries: Annotated[list[EntryIn], Field(max_length=20)] = []
    remote_bonuses: Annotated[list[RemoteBonusIn], Field(max_length=5)] = []


class RefundHeader(Payload):
    """``payload.refund`` of a ``refund`` event."""

    id: Id
    refund_no: Short | None = None
    sale_id: Id
    created_at: When
    cashier_id: Name | None = None
    approved_by: Name | None = None
    cash_refund_fen: Fen = 0
    cash_deducted_fen: Fen = 0
    flagged: StrictBool = False


class RefundLineIn(Payload):
    """One refunded line."""

    sale_line_id: Id
    quantity: Quantity


class RefundPayload(Payload):
    """A ``refund`` event."""

    refund: RefundHeader
    lines: Annotated[list[RefundLineIn], Field(min_length=1, max_length=500)]
    entries: Annotated[list[EntryIn], Field(max_length=20)] = []


class MemberIn(Payload):
    """``payload.member`` of a ``member_registered`` event (no plaintext phone)."""

    id: Id
    member_no: Annotated[int, Field(ge=0, le=10**15, strict=True)] | None = None
    phone_hash: PhoneHashHex
    phone_last4: Last4
    phone_masked: Annotated[str, StringConstraints(min_length=4, max_length=20)]
    name: Name = ""
    birthday: dt.date | None = None
    referred_by: Id | None = None
    referral_code: Annotated[str, StringConstraints(max_length=16)] | None = None
    registered_at: When
    store_id: Code | None = None

    @model_validator(mode="after")
    def _masked(self) -> MemberIn:
        if not all(ch.isdigit() or ch == "*" for ch in self.phone_masked):
            raise ValueError("phone_masked holds digits and '*' only (138****1234)")
        if self.phone_masked.count("*") < 3:
            raise ValueError("phone_masked must mask the middle digits (138****1234)")
        if self.referral_code is not None and not self.referral_code.isalnum():
            raise ValueError("referral_code must be letters and digits")
        return self


class ConsentIn(Payload):
    """A member's consent as stated (PIPL): marketing yes or no, the channels that may
    be used (sms, wechat, email), a notice of points earned after each sale."""

    marketing: bool
    channels: Annotated[list[Literal["sms", "wechat", "email"]], Field(max_length=3)] = []
    notify_earned: bool = False
    stated_at: When


class MemberPayload(Payload):
    """A ``member_registered`` event; ``consent`` is what the member chose at
    registration (none: nothing is sent to them)."""

    member: MemberIn
    entries: Annotated[list[EntryIn], Field(max_length=5)] = []
    consent: ConsentIn | None = None


class EntriesPayload(Payload):
    """An ``adjustment`` or ``expiry`` event: its ledger entries."""

    entries: Annotated[list[EntryIn], Field(min_length=1, max_length=50)]


class RedemptionHeader(Payload):
    """``payload.redemption``: points-mall items taken with points (+ cash)."""

    id: Id
    member_id: Id
    item_id: Id
    quantity: Quantity = 1
    points: NonNegPoints
    cash_fen: Fen = 0
    created_at: When
    # the price version the member was quoted (GET .../mall/quote); None: the price now
    price_version: Annotated[int, Field(ge=1, strict=True)] | None = None


class RedemptionPayload(Payload):
    """A ``redemption`` event (online mall, member app)."""

    redemption: RedemptionHeader
    entries: Annotated[list[EntryIn], Field(max_length=5)] = []


Hash64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
AuditText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]


class AuditPayload(Payload):
    """An ``audit`` event: one row of the till's hash-chained audit log, as hashed
    (docs/sync.md, "The ``audit`` event")."""

    seq: Annotated[int, Field(ge=1, le=2**62, strict=True)]
    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    at: Annotated[str, StringConstraints(min_length=20, max_length=40)]
    actor_id: Short
    action: Short
    subject: Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_nul)]
    detail: AuditText
    prev_hash: Hash64
    row_hash: Hash64


PAYLOADS: dict[str, type[Payload]] = {
    "sale": SalePayload,
    "refund": RefundPayload,
    "member_registered": MemberPayload,
    "adjustment": EntriesPayload,
    "expiry": EntriesPayload,
    "redemption": RedemptionPayload,
    "audit": AuditPayload,
}


# -- push and pull ----------------------------------------------------------------------


class EventIn(Body):
    """One outbox event: its id, kind and payload exactly as the writer stored them."""

    id: Id = Field(description="The event's client-generated id (the outbox id).")
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="sale, refund, member_registered, adjustment, expiry (tills); "
        "sale, refund, member_registered, redemption (channels)."
    )
    payload: dict[str, Any] | str = Field(
        description="The payload object, or the JSON text the outbox holds."
    )
    created_at: When | None = Field(default=None, description="When the writer queued it.")


class PushRequest(Body):
    """A batch of events, applied in order, each in its own transaction."""

    events: Annotated[list[EventIn], Field(min_length=1, max_length=500)]
    sent_at: When | None = Field(
        default=None, description="The writer's clock when it sent the batch (clock-skew check)."
    )


class EventResult(BaseModel):
    """What became of one event.

    ``status``: ``applied`` (written now, or earlier when ``replayed``), ``conflict``
    (the id was used for another payload: nothing written), ``invalid`` (the payload is
    malformed), ``rejected`` (the payload is impossible), ``forbidden``,
    ``retry_later`` (it depends on something HQ has not received yet).
    """

    event_id: str
    status: Literal["applied", "conflict", "invalid", "rejected", "forbidden", "retry_later"]
    http_status: int
    replayed: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None
    errors: list[dict[str, Any]] | None = None


class PushResponse(BaseModel):
    """Per-event results, in the order the events were sent."""

    received_at: dt.datetime
    results: list[EventResult]


class Change(BaseModel):
    """One change in the pull feed."""

    seq: int
    topic: Literal[
        "member",
        "member_snapshot",
        "entry",
        "rule_set",
        "product",
        "mall_item",
        "coupon",
        "member_code_key",
    ]
    data: dict[str, Any]


class PullResponse(BaseModel):
    """A page of changes after ``cursor`` (cursors are opaque text: ``v1:<number>``)."""

    cursor: str
    next_cursor: str
    up_to: int = Field(
        description="Every change numbered up to this is in this page or an earlier one "
        "(members an entry needs may come ahead of their place, numbered higher)."
    )
    has_more: bool
    changes: list[Change]


# -- holds ------------------------------------------------------------------------------


class HoldRequest(Body):
    """Authorise spending ``points`` of ``member_id`` now (the id is the caller's)."""

    id: Id
    member_id: Id
    points: PosPoints
    ttl_seconds: Annotated[int, Field(ge=10, le=3600, strict=True)] = 300
    sale_id: Id | None = None


class HoldPostRequest(Body):
    """Confirm the hold: the sale ``sale_id`` will carry its spend entry."""

    sale_id: Id


class HoldOut(BaseModel):
    """A hold and the member's points around it."""

    id: str
    member_id: str
    points: int
    status: str
    expires_at: dt.datetime
    sale_id: str | None
    balance: int
    available: int


# -- admin ------------------------------------------------------------------------------


class StoreIn(Body):
    """A new store; its tills hold the members of ``region`` (default: its own code)."""

    code: Code
    name: LongName
    region: Code | None = None


class ScopeMembersIn(Body):
    """Members HQ puts in a region's scope (its tills then hold them)."""

    member_ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)]


class TillIn(Body):
    """A new till (its code is chosen when omitted)."""

    till_code: Code | None = None


class ChannelIn(Body):
    """A new channel credential (``mall``, ``app``)."""

    code: Code
    name: LongName = ""


class CredentialOut(BaseModel):
    """A credential, shown once."""

    kind: str
    id: str
    token: str
    store_code: str | None = None
    till_code: str | None = None
    phone_key: str | None = None


class RuleSetIn(Body):
    """A rule set document (``docs/rules.md``) to publish."""

    document: dict[str, Any]
    activate: StrictBool = True


class ProductIn(Body):
    """A catalogue product."""

    sku: Annotated[str, StringConstraints(min_length=1, max_length=32), AfterValidator(_no_nul)]
    barcode: Short | None = None
    name: LongName
    category: Short = ""
    price_fen: Fen
    member_price_fen: Fen | None = None
    active: StrictBool = True


class ProductsIn(Body):
    """Products to create or replace."""

    products: Annotated[list[ProductIn], Field(min_length=1, max_length=5000)]


class MallItemIn(Body):
    """A points-mall item."""

    id: Annotated[
        str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")
    ]
    name: LongName
    points_price: NonNegPoints
    cash_price_fen: Fen = 0
    stock: Annotated[int, Field(ge=0, le=10**9, strict=True)] | None = None
    min_tier: Annotated[str, StringConstraints(max_length=16)] | None = None
    level: Literal["low", "middle", "top"] = "middle"
    category: Short = ""
    brand: Name = ""
    keywords: Text = ""
    discount_percent: Annotated[int, Field(ge=0, le=100, strict=True)] = 0
    discount_from: When | None = None
    discount_to: When | None = None
    available_from: When | None = None
    available_to: When | None = None
    active: StrictBool = True
    kind: Literal["goods", "lottery"] = "goods"
    float_floor: PosPoints | None = None
    float_ceiling: PosPoints | None = None
    float_step: PosPoints | None = None
    float_interval_minutes: Annotated[int, Field(ge=1, le=527_040, strict=True)] | None = None
    float_target: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MallItemIn:
        """Windows that end after they start; floating bounds all given or none."""
        for name in ("available", "discount"):
            start, end = getattr(self, f"{name}_from"), getattr(self, f"{name}_to")
            if start is not None and end is not None and end <= start:
                raise ValueError(f"{name}_to: must be after {name}_from")
        given = [f for f in FLOAT_FIELDS if getattr(self, f) is not None]
        if given and len(given) != len(FLOAT_FIELDS):
            missing = [f for f in FLOAT_FIELDS if f not in given]
            raise ValueError(
                f"{missing[0]}: a floating price needs all of {', '.join(FLOAT_FIELDS)}"
            )
        if given and self.float_ceiling < self.float_floor:  # type: ignore[operator]
            raise ValueError("float_ceiling: must not be below float_floor")
        return self


FLOAT_FIELDS = (
    "float_floor",
    "float_ceiling",
    "float_step",
    "float_interval_minutes",
    "float_target",
)


class PrizeIn(Body):
    """One line of a lottery's prize catalogue (``pos_app.core.mall.Prize``)."""

    kind: Literal["coupon", "goods", "points"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=48), AfterValidator(_no_nul)]
    count: Annotated[int, Field(ge=1, le=100_000, strict=True)]
    points: NonNegPoints = 0
    amount_off_fen: Fen = 0
    min_order_fen: Fen = 0
    valid_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 30

    @model_validator(mode="after")
    def _what_it_gives(self) -> PrizeIn:
        """A points prize gives points; a coupon takes money off."""
        if self.kind == "points" and self.points <= 0:
            raise ValueError("points: a points prize needs points above 0")
        if self.kind == "coupon" and self.amount_off_fen <= 0:
            raise ValueError("amount_off_fen: a coupon prize needs an amount above 0")
        return self


class PrizesIn(Body):
    """A lottery's whole prize catalogue, in order (the best-ranked winners first)."""

    prizes: Annotated[list[PrizeIn], Field(min_length=1, max_length=50)]


class MallItemsIn(Body):
    """Mall items to create or replace."""

    items: Annotated[list[MallItemIn], Field(min_length=1, max_length=5000)]


class CouponIn(Body):
    """A coupon to issue."""

    id: Annotated[
        str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")
    ]
    code: Annotated[
        str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    ]
    member_id: Id | None = None
    name: Name
    amount_off_fen: Fen = 0
    percent_off: Annotated[int, Field(ge=0, le=100, strict=True)] = 0
    min_order_fen: Fen = 0
    valid_from: When
    valid_to: When

    @model_validator(mode="after")
    def _window(self) -> CouponIn:
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class CouponsIn(Body):
    """Coupons to issue."""

    coupons: Annotated[list[CouponIn], Field(min_length=1, max_length=5000)]


class AdjustmentIn(Body):
    """A correction HQ makes itself (after reviewing a flag); every till pulls it."""

    id: Id
    member_id: Id
    points: Points
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_nul)]

    @model_validator(mode="after")
    def _nonzero(self) -> AdjustmentIn:
        if self.points == 0:
            raise ValueError("an adjustment moves points: points must not be 0")
        return self


class ManagerIn(Body):
    """A store manager: the till user id she approves adjustments with, and her name."""

    manager_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"),
    ]
    name: Name = ""


class MemberCodeUseIn(Body):
    """A member code a till scanned (the whole ``MD…`` text)."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=200)]


ReviewStatus = Literal["held", "approved", "rejected"]


class JobsIn(Body):
    """Run the jobs as of ``now`` (HQ's clock when omitted)."""

    now: When | None = None


# -- consent and contacts (the member app) ---------------------------------------------


class ConsentStatementIn(ConsentIn):
    """A consent the member states through a channel: ``id`` is the request's own id
    (the same id again changes nothing). Withdrawing is a statement too:
    ``marketing: false`` and/or fewer ``channels``."""

    id: Id


class ContactsIn(Body):
    """A member's addresses as the channel verified them; a field left out is kept,
    ``null`` forgets it."""

    sms: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    wechat: Annotated[str, StringConstraints(max_length=64)] | None = None


class MallFrontIn(Body):
    """What HQ features on the mall's front page: item ids per section, in order (the
    sections given replace what was there; a section left out is kept)."""

    sections: dict[
        Literal["hot", "value", "new", "lottery", "member_day"],
        Annotated[list[Id], Field(max_length=50)],
    ]
