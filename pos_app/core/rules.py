"""The rule set: a versioned JSON document that HQ authors and every till applies.

``load_rule_set`` turns a document into a frozen :class:`RuleSet` or raises
:class:`~pos_app.core.errors.RuleSetError` naming the field and the problem. The format
and the default rule set are described in ``docs/rules.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pos_app.core.errors import RuleSetError

TierCode = str

Multiplier = Annotated[Decimal, Field(ge=Decimal("1"), le=Decimal("100"), decimal_places=2)]
NonNegInt = Annotated[int, Field(ge=0, strict=True)]
PosInt = Annotated[int, Field(gt=0, strict=True)]


@lru_cache(maxsize=1024)
def as_fraction(multiplier: Decimal) -> Fraction:
    """``multiplier`` as an exact fraction (remembered: a rule set has a handful of
    multipliers, and every quote reads them)."""
    return Fraction(multiplier)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class _FieldProblem(ValueError):
    """A problem a model-level validator finds in one of the model's fields.

    Pydantic reports errors raised by model validators at the model's location;
    ``field`` (relative to the model) lets :func:`load_rule_set` name the field itself.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


class MonthlyDayPromotion(_Model):
    """Member day: a fixed day each month (会员日)."""

    kind: Literal["monthly_day"]
    id: str
    name: str
    day: Annotated[int, Field(ge=1, le=31)]
    multiplier: Multiplier


class WeeklyPromotion(_Model):
    """A multiplier on some weekdays (1 = Monday ... 7 = Sunday)."""

    kind: Literal["weekly"]
    id: str
    name: str
    weekdays: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1)]
    multiplier: Multiplier
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> WeeklyPromotion:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise _FieldProblem("end", "end is before start")
        return self


class DateRangePromotion(_Model):
    """A multiplier between two dates, both included (holidays, anniversaries...)."""

    kind: Literal["date_range"]
    id: str
    name: str
    start: dt.date
    end: dt.date
    multiplier: Multiplier

    @model_validator(mode="after")
    def _ordered(self) -> DateRangePromotion:
        if self.end < self.start:
            raise _FieldProblem("end", "end is before start")
        return self


class BirthdayPromotion(_Model):
    """A multiplier in the member's birthday window (day, ISO week or month)."""

    kind: Literal["birthday"]
    id: str
    name: str
    window: Literal["day", "week", "month"]
    multiplier: Multiplier


class FirstPurchasePromotion(_Model):
    """A multiplier on the member's first purchase."""

    kind: Literal["first_purchase"]
    id: str
    name: str
    multiplier: Multiplier


Promotion = Annotated[
    MonthlyDayPromotion
    | WeeklyPromotion
    | DateRangePromotion
    | BirthdayPromotion
    | FirstPurchasePromotion,
    Field(discriminator="kind"),
]


class Caps(_Model):
    """Anti-abuse caps on points earned by purchases (None = no cap)."""

    per_order: NonNegInt | None = None
    per_member_per_day: NonNegInt | None = None


class Earning(_Model):
    """How purchases earn points."""

    points_per_yuan: PosInt = 1
    excluded_categories: frozenset[str] = frozenset()
    tier_multipliers: dict[TierCode, Multiplier]
    promotion_combine: Literal["max", "multiply", "add"] = "max"
    promotions: list[Promotion] = Field(default_factory=list)
    caps: Caps = Caps()

    @field_validator("promotions")
    @classmethod
    def _unique_ids(cls, value: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for promo in value:
            if promo.id in seen:
                raise ValueError(f"promotion id {promo.id!r} is used twice")
            seen.add(promo.id)
        return value


class Bonuses(_Model):
    """One-off bonuses."""

    registration: NonNegInt = 0
    referral_referrer: NonNegInt = 0
    referral_friend: NonNegInt = 0
    birthday_gift: NonNegInt = 0
    birthday_window: Literal["day", "week", "month"] = "month"


class Spending(_Model):
    """How points pay for a basket (积分抵现)."""

    points_per_yuan: PosInt = 100
    min_order_fen: NonNegInt = 0
    max_share_percent: Annotated[int, Field(ge=0, le=100)] = 100
    unit_points: PosInt = 1
    stack_with_coupons: bool = True
    offline_allowance_points: NonNegInt = 0
    excluded_categories: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _exact_unit(self) -> Spending:
        if (self.unit_points * 100) % self.points_per_yuan:
            raise _FieldProblem(
                "unit_points",
                "unit_points must be worth a whole number of fen "
                "(unit_points * 100 divisible by points_per_yuan)",
            )
        return self


class TierLevel(_Model):
    """One tier and what it takes to reach it."""

    code: TierCode
    name: str
    spend_fen: NonNegInt
    points: NonNegInt


class Tiers(_Model):
    """Tier ladder, lowest first. Reaching either threshold qualifies."""

    levels: Annotated[list[TierLevel], Field(min_length=1)]
    window_months: Annotated[int, Field(ge=1, le=60)] = 12
    review_month: Annotated[int, Field(ge=1, le=12)] = 1
    review_day: Annotated[int, Field(ge=1, le=28)] = 1

    @model_validator(mode="after")
    def _ladder(self) -> Tiers:
        codes = [lv.code for lv in self.levels]
        if len(set(codes)) != len(codes):
            raise _FieldProblem("levels", "tier codes must be unique")
        first = self.levels[0]
        if first.spend_fen or first.points:
            raise _FieldProblem("levels[0]", "the first tier must have zero thresholds")
        for low, high in zip(self.levels, self.levels[1:], strict=False):
            if high.spend_fen < low.spend_fen or high.points < low.points:
                raise _FieldProblem(
                    "levels", f"tier {high.code!r} has lower thresholds than {low.code!r}"
                )
        return self


class Expiry(_Model):
    """When an earned lot expires."""

    mode: Literal["rolling", "period_end", "never"] = "rolling"
    months: Annotated[int, Field(ge=1, le=240)] = 24
    period: Literal["year", "quarter", "month"] = "year"
    periods_after: Annotated[int, Field(ge=0, le=20)] = 1
    reminder_days: Annotated[int, Field(ge=0, le=366)] = 30


class Refunds(_Model):
    """What a refund does when the points it earned were already spent, and who may
    approve it (``self_approval``: a manager approving a refund she makes herself)."""

    when_earned_points_spent: Literal["deduct_cash", "negative_balance"] = "deduct_cash"
    negative_floor: Annotated[int, Field(le=0, strict=True)] = 0
    self_approval: Annotated[bool, Field(strict=True)] = False


class Adjustments(_Model):
    """Bounds HQ holds a till's manual adjustments to (and its own, for the floor).

    Attributes:
        max_points: The most points one adjustment entry of a till may move either way;
            HQ refuses a larger one.
        balance_floor: No adjustment (a till's or HQ's) may take a balance below this.
        out_of_region: A till's adjustment for a member outside the till's region:
            ``refuse`` it, or hold it for an HQ admin's ``review``.
    """

    max_points: Annotated[int, Field(gt=0, le=1_000_000_000, strict=True)] = 100_000
    balance_floor: Annotated[int, Field(le=0, ge=-1_000_000_000, strict=True)] = 0
    out_of_region: Literal["refuse", "review"] = "refuse"


class Mall(_Model):
    """Points-mall suggestion settings."""

    reach_points: NonNegInt = 500
    max_suggestions: Annotated[int, Field(ge=0, le=10)] = 3


#: The GS1 prefixes for in-store numbers (restricted circulation, 20-29).
IN_STORE_PREFIXES: tuple[str, ...] = tuple(f"2{d}" for d in range(10))

#: Digits of an EAN-13 scale label between its 2-digit prefix and its check digit.
SCALE_BODY_DIGITS = 10


class ScaleLayout(_Model):
    """How one family of scale labels (称重码) is laid out.

    An EAN-13 scale label is the 2-digit prefix, ``item_digits`` of item code,
    ``value_digits`` of price (fen) or weight (grams), then the check digit.
    """

    prefixes: Annotated[
        list[Annotated[str, Field(pattern=r"^2\d$")]], Field(min_length=1, max_length=10)
    ] = Field(default_factory=lambda: list(IN_STORE_PREFIXES))
    item_digits: Annotated[int, Field(ge=1, le=SCALE_BODY_DIGITS - 1, strict=True)] = 5
    value: Literal["price", "weight"] = "price"
    value_digits: Annotated[int, Field(ge=1, le=SCALE_BODY_DIGITS - 1, strict=True)] = 5

    @model_validator(mode="after")
    def _fills_the_label(self) -> ScaleLayout:
        if self.item_digits + self.value_digits != SCALE_BODY_DIGITS:
            raise _FieldProblem(
                "value_digits",
                f"item_digits + value_digits must be {SCALE_BODY_DIGITS} "
                f"(an EAN-13 label: 2-digit prefix, item code, value, check digit), "
                f"got {self.item_digits} + {self.value_digits}",
            )
        if len(set(self.prefixes)) != len(self.prefixes):
            raise _FieldProblem("prefixes", "a prefix is listed twice")
        return self


class Scale(_Model):
    """Scale labels (称重码): their layouts and the heaviest plausible weight.

    Attributes:
        layouts: One per label family; a prefix belongs to at most one layout.
        max_weight_g: A weight label above this many grams is refused as impossible.
    """

    layouts: Annotated[list[ScaleLayout], Field(max_length=10)] = Field(
        default_factory=lambda: [ScaleLayout()]
    )
    max_weight_g: Annotated[int, Field(gt=0, le=1_000_000, strict=True)] = 30_000

    @model_validator(mode="after")
    def _one_layout_per_prefix(self) -> Scale:
        seen: set[str] = set()
        for i, layout in enumerate(self.layouts):
            twice = seen.intersection(layout.prefixes)
            if twice:
                raise _FieldProblem(
                    f"layouts[{i}].prefixes",
                    f"prefix {min(twice)} is already in another layout",
                )
            seen.update(layout.prefixes)
        return self

    def layout_for(self, prefix: str) -> ScaleLayout | None:
        """The layout of labels starting with ``prefix``, or None."""
        for layout in self.layouts:
            if prefix in layout.prefixes:
                return layout
        return None


class Notifications(_Model):
    """What HQ's notification job sends and when (docs/notifications.md).

    Attributes:
        expiry_days: Remind of points expiring within each of these many days.
        tier_near_spend_fen: A member this close (spend) to the next tier is told so.
        tier_near_points: ...or this close in points.
        quiet_start: Store-local time from which nothing is sent...
        quiet_end: ...until this time (a window across midnight when start > end;
            equal times: no quiet hours).
        marketing_per_week: Most marketing messages one member gets in 7 days.
    """

    expiry_days: Annotated[
        list[Annotated[int, Field(ge=1, le=366, strict=True)]], Field(max_length=4)
    ] = [30, 7]
    tier_near_spend_fen: NonNegInt = 20_000
    tier_near_points: NonNegInt = 1_000
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(9, 0)
    marketing_per_week: Annotated[int, Field(ge=0, le=50, strict=True)] = 3

    @field_validator("expiry_days")
    @classmethod
    def _distinct_days(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("expiry_days must not repeat a day count")
        return sorted(value, reverse=True)


class Perks(_Model):
    """What a higher tier gets beyond its multiplier (docs/rules.md#perks).

    Attributes:
        tier_price_percent: Per tier, the share of a product's member price that tier
            pays (95 = 5% off the member price); a tier not listed pays the member price.
        early_access_hours: Per tier, how many hours before everyone else a mall item
            that appears at a set time opens to that tier.
        anniversary_bonus: Per tier, the points a member gets once a membership year, in
            the month they registered (HQ's job grants them).
    """

    tier_price_percent: dict[TierCode, Annotated[int, Field(ge=1, le=100, strict=True)]] = {}
    early_access_hours: dict[TierCode, Annotated[int, Field(ge=0, le=720, strict=True)]] = {}
    anniversary_bonus: dict[TierCode, Annotated[int, Field(ge=0, le=1_000_000, strict=True)]] = {}


class RuleSet(_Model):
    """A complete, validated rule set."""

    version: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    timezone: str = "Asia/Shanghai"
    currency: Literal["CNY"] = "CNY"
    earning: Earning
    bonuses: Bonuses = Bonuses()
    spending: Spending
    tiers: Tiers
    expiry: Expiry = Expiry()
    refunds: Refunds = Refunds()
    adjustments: Adjustments = Adjustments()
    mall: Mall = Mall()
    scale: Scale = Scale()
    notifications: Notifications = Notifications()
    perks: Perks = Perks()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _tiers_have_multipliers(self) -> RuleSet:
        missing = [
            lv.code for lv in self.tiers.levels if lv.code not in self.earning.tier_multipliers
        ]
        if missing:
            raise _FieldProblem(
                "earning.tier_multipliers",
                f"earning.tier_multipliers has no entry for tier(s) {', '.join(missing)}",
            )
        extra = set(self.earning.tier_multipliers) - {lv.code for lv in self.tiers.levels}
        if extra:
            raise _FieldProblem(
                "earning.tier_multipliers",
                f"earning.tier_multipliers names unknown tier(s) {', '.join(sorted(extra))}",
            )
        for name in ("tier_price_percent", "early_access_hours", "anniversary_bonus"):
            unknown = set(getattr(self.perks, name)) - {lv.code for lv in self.tiers.levels}
            if unknown:
                raise _FieldProblem(
                    f"perks.{name}",
                    f"perks.{name} names unknown tier(s) {', '.join(sorted(unknown))}",
                )
        return self

    # -- helpers ---------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        """The store time zone promotions and expiry dates are evaluated in."""
        return ZoneInfo(self.timezone)

    def tier_multiplier(self, tier: TierCode) -> Fraction:
        """Multiplier of ``tier`` as an exact fraction."""
        try:
            return as_fraction(self.earning.tier_multipliers[tier])
        except KeyError:
            raise RuleSetError(
                "earning.tier_multipliers", f"no multiplier for tier {tier!r}"
            ) from None

    def tier_codes(self) -> list[TierCode]:
        """Tier codes, lowest first."""
        return [lv.code for lv in self.tiers.levels]

    def is_top_tier(self, tier: str) -> bool:
        """True for the highest tier on the ladder: activity cannot raise it further."""
        codes = self.tier_codes()
        return bool(codes) and tier == codes[-1]

    def tier_rank(self, tier: TierCode) -> int:
        """Position of ``tier`` on the ladder (0 = lowest)."""
        codes = self.tier_codes()
        if tier not in codes:
            raise RuleSetError("tiers.levels", f"unknown tier {tier!r}")
        return codes.index(tier)

    def tier_name(self, tier: TierCode) -> str:
        """Display name of ``tier``."""
        for level in self.tiers.levels:
            if level.code == tier:
                return level.name
        return tier

    def to_json(self) -> str:
        """Canonical JSON form (what HQ stores and pushes)."""
        return self.model_dump_json(indent=2)


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"monthly_day", "weekly", "date_range", "birthday", "first_purchase"}:
            continue  # discriminator tag pydantic adds to the location
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(document)"


def load_rule_set(document: dict[str, Any] | str | bytes) -> RuleSet:
    """Validate a rule set document (a dict or JSON text).

    Raises:
        RuleSetError: naming the first field that is wrong and what is wrong with it.
    """
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise RuleSetError(
                "(document)", f"not valid JSON: {exc.msg} at line {exc.lineno}"
            ) from None
        except UnicodeDecodeError as exc:
            raise RuleSetError(
                "(document)", f"not valid JSON text: {exc.encoding} cannot decode it"
            ) from None
    if not isinstance(document, dict):
        raise RuleSetError("(document)", "a rule set must be a JSON object")
    try:
        return RuleSet.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        path = _field_path(tuple(first["loc"]))
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldProblem):
            path = cause.field if path == "(document)" else f"{path}.{cause.field}"
        raise RuleSetError(path, msg) from None


def default_rule_set() -> RuleSet:
    """The default rule set shipped with the till (the numbers in the brief)."""
    text = resources.files("pos_app.core").joinpath("default_rules.json").read_text("utf-8")
    return load_rule_set(text)
