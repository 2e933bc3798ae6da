"""Receipts (小票): a stored sale or refund as a :class:`~pos_app.devices.receipt.Receipt`.

:func:`build_receipt` reads everything from the till database, so the same receipt can be
built again at any time: when the print queue prints it, for a reprint (marked 重印), or
for ``pos-app receipt preview``. Figures that move on after the sale are computed as they
stood right after it:

* the balance is the member's ledger summed in ledger order (``created_at``, then insertion
  order) up to and including the sale's (or refund's) own entries;
* the points expiring soon come from the member's lots as those entries left them;
* the tier and the progress to the next tier use the qualification window as it stood at
  the sale (sales and refunds up to that moment).

The member block only ever carries the masked phone number stored with the member; the
till has no plaintext number to leak. Mall suggestions use the mall items HQ pushed and
the rule set in force; the QR code points to the member's mall page, built from the
``receipt.mall_base_url`` setting and the member code.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from pos_app.core.codes import member_code
from pos_app.core.errors import QT_TRANSLATE_NOOP
from pos_app.core.lots import expiring_soon
from pos_app.core.mall import MallItem, Suggestion, suggest
from pos_app.core.money import format_fen
from pos_app.core.quote import registration_bonus
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import progress, qualified_tier, window_start_at
from pos_app.devices.receipt import Language, MemberBlock, Receipt, ReceiptLine, Tender
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownSale
from pos_app.services.mall import core_item, preferred_categories
from pos_app.services.members import is_provisional
from pos_app.store import ledger as ledger_store
from pos_app.store import mall as mall_store
from pos_app.store import members as member_store
from pos_app.store import sales as sale_store
from pos_app.store import setting_keys
from pos_app.store.models import Member, Refund, Sale, SaleLine
from pos_app.store.settings import get_setting, put_setting
from pos_app.store.users import get_user

#: Setting keys (table ``settings``) and their defaults.
SETTING_MALL_BASE_URL: Final = setting_keys.MALL_BASE_URL.key
SETTING_STORE_ADDRESS: Final = setting_keys.STORE_ADDRESS.key
SETTING_FOOTER: Final = setting_keys.FOOTER.key
DEFAULT_MALL_BASE_URL: Final = setting_keys.MALL_BASE_URL.default

#: Texts this module writes onto receipts (the fixed labels live in devices.receipt).
TEXTS: Final[Mapping[Language, Mapping[str, str]]] = {
    "zh_CN": {
        "cash": "现金",
        "card": "银行卡",
        "wechat": "微信支付",
        "alipay": "支付宝",
        "other": "其他支付",
        "base": "基础 {points}",
        "step": "{label} +{points}",
        "cap_order": "单笔封顶 -{points}",
        "cap_day": "当日封顶 -{points}",
        "birthday_gift": "生日礼 +{points}",
        "referral_friend": "推荐奖励 +{points}",
        "referral_referrer": "推荐人奖励 +{points}",
        "bonus": "奖励 +{points}",
        "joiner": " + ",
        "progress": "再消费 {spend} 元 / 再得 {points} 积分升级{tier}",
        "top_tier": "已是最高等级 {tier}",
        "mall_now": "可兑换 {item}（{points}积分）",
        "mall_reach": "再攒 {short} 积分即可兑换 {item}",
        "join": "注册会员，本单可得 {points} 积分！",
        "join_no_points": "注册会员，消费即可积分！",
        "provisional": "会员信息暂未同步：本单积分由总部入账，余额以总部为准",
        "join_bonus": "现在注册即送 {bonus} 积分",
        "footer": "谢谢惠顾，欢迎再次光临",
        "refund_footer": "退款将原路退回，请注意查收",
        "restored": "退回抵扣积分 +{points}",
        "debt": "积分欠款 {points}，下次消费自动抵扣",
        "expired": "本单积分已过期 {points}，不再扣回",
        "deducted": "本单积分已使用，扣除其价值 {amount}（{points} 积分）",
    },
    "en": {
        "cash": "Cash",
        "card": "Card",
        "wechat": "WeChat Pay",
        "alipay": "Alipay",
        "other": "Other",
        "base": "Base {points}",
        "step": "{label} +{points}",
        "cap_order": "Order cap -{points}",
        "cap_day": "Daily cap -{points}",
        "birthday_gift": "Birthday gift +{points}",
        "referral_friend": "Referral bonus +{points}",
        "referral_referrer": "Referrer bonus +{points}",
        "bonus": "Bonus +{points}",
        "joiner": " + ",
        "progress": "Spend {spend} yuan or earn {points} pts more for {tier}",
        "top_tier": "Top tier: {tier}",
        "mall_now": "Redeem now: {item} ({points} pts)",
        "mall_reach": "{short} more pts to redeem {item}",
        "join": "Join as a member: this order would earn {points} pts!",
        "join_no_points": "Join as a member and earn points!",
        "provisional": "Member not on this till yet: HQ credits these points to the balance",
        "join_bonus": "Join now and get {bonus} pts",
        "footer": "Thank you for shopping with us",
        "refund_footer": "The refund goes back the way you paid",
        "restored": "Points given back +{points}",
        "debt": "Points owed: {points}, repaid by your next points",
        "expired": "Already expired, not taken back: {points} pts",
        "deducted": "Points already spent: {amount} deducted ({points} pts)",
    },
}

_MULTIPLIER_SUFFIX = re.compile(r"\s*[x×]\s*[\d./]+$")


@dataclass(frozen=True)
class ReceiptSettings:
    """What every receipt of this till prints besides the sale.

    Attributes:
        mall_base_url: Base of the member mall pages; the QR code holds
            ``{mall_base_url}/m/{member_code}``.
        store_address: Printed under the store name (may be empty).
        footer: Closing text; empty for the default thank-you line.
    """

    mall_base_url: str = DEFAULT_MALL_BASE_URL
    store_address: str = ""
    footer: str = ""


def receipt_settings(ctx: TillContext) -> ReceiptSettings:
    """The receipt settings stored in the till database (defaults where unset)."""
    with ctx.db.read() as session:
        return _settings(session)


def _settings(session: Session) -> ReceiptSettings:
    return ReceiptSettings(
        mall_base_url=get_setting(session, SETTING_MALL_BASE_URL) or DEFAULT_MALL_BASE_URL,
        store_address=get_setting(session, SETTING_STORE_ADDRESS) or "",
        footer=get_setting(session, SETTING_FOOTER) or "",
    )


def set_receipt_settings(ctx: TillContext, settings: ReceiptSettings) -> None:
    """Store the receipt settings.

    Raises:
        ValueError: a mall base URL that is not http(s).
    """
    base = settings.mall_base_url.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", base):
        raise ValueError(f"the mall base URL must be an http(s) URL, not {base!r}")
    with ctx.db.write() as session:
        put_setting(session, SETTING_MALL_BASE_URL, base)
        put_setting(session, SETTING_STORE_ADDRESS, settings.store_address.strip())
        put_setting(session, SETTING_FOOTER, settings.footer.strip())


def mall_url(base_url: str, member_no: int) -> str:
    """The member's mall page: ``{base}/m/{member_code}``."""
    return f"{base_url.rstrip('/')}/m/{member_code(member_no)}"


# --- public API --------------------------------------------------------------------------


def build_receipt(
    ctx: TillContext,
    sale_id_or_receipt_no: str,
    *,
    reprint: bool = False,
    language: Language = "zh_CN",
) -> Receipt:
    """The receipt of a stored sale (or refund), as it prints.

    Args:
        ctx: The till.
        sale_id_or_receipt_no: A sale's id or receipt number; a refund's id or number
            gives the refund receipt (see :func:`build_refund_receipt`).
        reprint: Mark the receipt 重印 (a copy).
        language: ``"zh_CN"`` or ``"en"``.

    Returns:
        The receipt.

    Raises:
        UnknownSale: no sale or refund has this id or number.
    """
    key = sale_id_or_receipt_no.strip()
    with ctx.db.read() as session:
        sale = _find_sale(session, key)
        if sale is not None:
            return _sale_receipt(ctx, session, sale, reprint, language)
        refund = _find_refund(session, key)
        if refund is not None:
            return _refund_receipt(ctx, session, refund, reprint, language)
    raise unknown_receipt(key)


def build_refund_receipt(
    ctx: TillContext,
    refund_id_or_no: str,
    *,
    reprint: bool = False,
    language: Language = "zh_CN",
) -> Receipt:
    """The receipt of a stored refund (退货小票).

    Raises:
        UnknownSale: no refund has this id or number.
    """
    key = refund_id_or_no.strip()
    with ctx.db.read() as session:
        refund = _find_refund(session, key)
        if refund is None:
            raise unknown_receipt(key)
        return _refund_receipt(ctx, session, refund, reprint, language)


@dataclass(frozen=True)
class ReceiptRef:
    """What a receipt number names.

    Attributes:
        kind: ``"sale"`` or ``"refund"``.
        id: The sale's or refund's id.
        receipt_no: Its receipt number.
        cash: Money went through the cash drawer (a cash tender or a cash pay-out).
    """

    kind: str
    id: str
    receipt_no: str
    cash: bool


def find_receipt(ctx: TillContext, id_or_receipt_no: str) -> ReceiptRef:
    """The sale or refund a receipt number (or id) names.

    Raises:
        UnknownSale: nothing has this id or number.
    """
    key = id_or_receipt_no.strip()
    with ctx.db.read() as session:
        ref = lookup(session, key)
    if ref is None:
        raise unknown_receipt(key)
    return ref


def lookup(session: Session, key: str) -> ReceiptRef | None:
    """:func:`find_receipt` within a session; None when nothing matches."""
    sale = _find_sale(session, key)
    if sale is not None:
        return ReceiptRef(
            "sale", sale.id, sale.receipt_no, sale_store.paid_cash(session, sale_id=sale.id)
        )
    refund = _find_refund(session, key)
    if refund is not None:
        return ReceiptRef(
            "refund",
            refund.id,
            refund.refund_no,
            sale_store.paid_cash(session, refund_id=refund.id),
        )
    return None


def unknown_receipt(key: str) -> UnknownSale:
    """The error for a receipt number (or id) nothing has."""
    return UnknownSale(
        QT_TRANSLATE_NOOP("Errors", "No sale has receipt number {receipt}."), receipt=key
    )


def _find_sale(session: Session, key: str) -> Sale | None:
    return sale_store.get_sale(session, key) or sale_store.sale_by_receipt_no(session, key.upper())


def _find_refund(session: Session, key: str) -> Refund | None:
    return sale_store.get_refund(session, key) or sale_store.refund_by_no(session, key.upper())


# --- sale ---------------------------------------------------------------------------------


def _sale_receipt(
    ctx: TillContext, session: Session, sale: Sale, reprint: bool, language: Language
) -> Receipt:
    rules = ctx.rules
    words = TEXTS[language]
    settings = _settings(session)
    price_name, savings = _tier_savings(rules, sale)
    lines = [
        ReceiptLine(
            name=row.name,
            quantity=row.quantity,
            unit_price_fen=row.unit_price_fen,
            amount_fen=row.quantity * row.unit_price_fen - row.line_discount_fen,
            discount_fen=row.line_discount_fen,
            weight_g=row.weight_g,
            price_per_kg_fen=row.price_per_kg_fen,
            tier_saving_fen=savings.get(row.line_no, 0),
            price_name=price_name,
        )
        for row in _sale_lines(session, sale.id)
    ]
    tenders = sale_store.tenders_of_sale(session, sale.id)
    member = member_store.get_member(session, sale.member_id)
    block = _sale_member_block(ctx, session, sale, member, settings, language) if member else None
    return Receipt(
        kind="sale",
        store_name=ctx.store_name,
        store_address=settings.store_address,
        till_id=sale.till_id,
        cashier_name=_user_name(session, sale.cashier_id),
        printed_at=sale.created_at.astimezone(rules.zone),
        receipt_no=sale.receipt_no,
        lines=lines,
        subtotal_fen=sum(line.amount_fen for line in lines),
        coupon_fen=sale.coupon_fen,
        points_used=sale.points_used,
        points_value_fen=sale.points_value_fen,
        total_paid_fen=sale.cash_due_fen,
        tenders=[
            Tender(_method(words, t.method), t.received_fen if t.method == "cash" else t.amount_fen)
            for t in tenders
        ],
        change_fen=sum(t.change_fen for t in tenders),
        member=block,
        reprint=reprint,
        join_prompt="" if member else _join_prompt(rules, session, sale, words),
        footer=settings.footer or words["footer"],
        language=language,
    )


def _tier_savings(rules: RuleSet, sale: Sale) -> tuple[str, dict[int, int]]:
    """(the name of the tier whose prices the sale charged, what they saved per line
    number), from the sale's stored quote ("", {} for a sale without them)."""
    doc = json.loads(sale.quote_json)
    tier = doc.get("price_tier")
    if not tier:
        return "", {}
    saved = {i + 1: int(line.get("tier_saving_fen", 0)) for i, line in enumerate(doc["lines"])}
    return rules.tier_name(tier), {no: fen for no, fen in saved.items() if fen > 0}


def _sale_lines(session: Session, sale_id: str) -> Sequence[SaleLine]:
    return sale_store.lines_of_sale(session, sale_id)


def _method(words: Mapping[str, str], method: str) -> str:
    return words[method] if method in ("cash", "card", "wechat", "alipay") else words["other"]


def _user_name(session: Session, user_id: str) -> str:
    user = get_user(session, user_id)
    return user.name if user is not None else user_id


def _join_prompt(rules: RuleSet, session: Session, sale: Sale, words: Mapping[str, str]) -> str:
    """What joining would have earned on this sale (base points), and the welcome bonus."""
    excluded = set(rules.earning.excluded_categories)
    eligible = sum(
        row.cash_fen
        for row in _sale_lines(session, sale.id)
        if not row.is_reward and row.category not in excluded
    )
    points = eligible * rules.earning.points_per_yuan // 100
    prompt = words["join"].format(points=points) if points else words["join_no_points"]
    bonus = registration_bonus(rules)
    if bonus:
        prompt += "\n" + words["join_bonus"].format(bonus=bonus)
    return prompt


def _sale_member_block(
    ctx: TillContext,
    session: Session,
    sale: Sale,
    member: Member,
    settings: ReceiptSettings,
    language: Language,
) -> MemberBlock:
    rules = ctx.rules
    words = TEXTS[language]
    at = sale.created_at
    if is_provisional(member.id):  # a code scanned while HQ was away: no balance here
        return MemberBlock(
            masked_phone=member.phone_masked,
            tier_name=rules.tier_name(member.tier),
            points_earned=sale.points_earned + sale.bonus_points,
            balance_after=None,
            tier_progress=words["provisional"],
        )
    cut = ledger_store.ledger_cut(session, member.id, at, sale_id=sale.id)
    balance = ledger_store.balance_at(session, member.id, cut)
    soon = expiring_soon(rules, ledger_store.lots_at(session, member.id, cut), at)
    spend, points = _window_figures(session, rules, member.id, at)
    tier = member.tier if member.tier_since <= at else qualified_tier(rules, spend, points)
    quote = _quote_doc(sale)
    return MemberBlock(
        masked_phone=member.phone_masked,
        tier_name=rules.tier_name(tier),
        points_earned=sale.points_earned + sale.bonus_points,
        balance_after=balance,
        earn_breakdown=_breakdown(quote, member.id, words),
        expiring_points=soon.points,
        expiring_date=soon.first_date,
        tier_progress=_progress_text(rules, tier, spend, points, words),
        suggestions=[
            _suggestion_text(s, words)
            for s in suggest(
                rules,
                balance=balance,
                tier=tier,
                items=_mall_items(session),
                at=at,
                preferred_categories=preferred_categories(
                    session, member.id, window_start_at(rules, at)
                ),
                limit=min(3, rules.mall.max_suggestions),
            )
        ],
        mall_url=mall_url(settings.mall_base_url, member.member_no),
    )


def _quote_doc(sale: Sale) -> dict[str, Any]:
    try:
        doc = json.loads(sale.quote_json)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _breakdown(quote: Mapping[str, Any], member_id: str, words: Mapping[str, str]) -> list[str]:
    """ "基础 300 + 会员日 +300": the stored earn breakdown and the member's own bonuses.

    Empty when there is nothing to explain (only base points, or none).
    """
    parts: list[str] = []
    extras = 0
    for note in quote.get("earn_breakdown") or ():
        code = note.get("code", "")
        params = note.get("params") or {}
        if code == "base":
            parts.append(words["base"].format(points=params.get("base", 0)))
            continue
        extras += 1
        if code in ("cap_order", "cap_day"):
            parts.append(words[code].format(points=params.get("cut", 0)))
        elif "extra" in params:
            label = _MULTIPLIER_SUFFIX.sub("", str(params.get("label", code))).strip()
            parts.append(words["step"].format(label=label, points=params["extra"]))
        else:
            parts.append(str(note.get("text", "")))
    for bonus in quote.get("bonuses") or ():
        if bonus.get("member_id") != member_id or not bonus.get("points"):
            continue
        extras += 1
        kind = bonus.get("kind", "")
        key = kind if kind in ("birthday_gift", "referral_friend", "referral_referrer") else "bonus"
        parts.append(words[key].format(points=bonus["points"]))
    if not extras:
        return []
    return [words["joiner"].join(p for p in parts if p)]


def _progress_text(
    rules: RuleSet, tier: str, spend_fen: int, points: int, words: Mapping[str, str]
) -> str:
    step = progress(rules, tier, spend_fen, points)
    if step.next_tier is None:
        return words["top_tier"].format(tier=rules.tier_name(tier))
    return words["progress"].format(
        spend=format_fen(step.spend_needed_fen, symbol="").removesuffix(".00"),
        points=step.points_needed,
        tier=step.next_name,
    )


def _suggestion_text(suggestion: Suggestion, words: Mapping[str, str]) -> str:
    if suggestion.redeemable:
        return words["mall_now"].format(item=suggestion.item.name, points=suggestion.points_price)
    return words["mall_reach"].format(item=suggestion.item.name, short=suggestion.points_short)


def _mall_items(session: Session) -> list[MallItem]:
    return [core_item(row) for row in mall_store.all_items(session)]


# --- the member's figures as they stood ------------------------------------------------------


def _window_figures(
    session: Session, rules: RuleSet, member_id: str, at: dt.datetime
) -> tuple[int, int]:
    """(spend in fen, purchase points) of the tier window that ends at ``at``, net of the
    refunds made by then: what the tier and its progress were measured on at ``at``."""
    since = window_start_at(rules, at)
    return (
        ledger_store.spend_since(session, member_id, since, as_of=at),
        ledger_store.purchase_points_since(session, member_id, since, as_of=at),
    )


# --- refund ---------------------------------------------------------------------------------


def _refund_receipt(
    ctx: TillContext, session: Session, refund: Refund, reprint: bool, language: Language
) -> Receipt:
    rules = ctx.rules
    words = TEXTS[language]
    settings = _settings(session)
    sale = sale_store.get_sale(session, refund.sale_id)
    assert sale is not None  # a foreign key
    sold = {row.id: row for row in _sale_lines(session, sale.id)}
    lines: list[ReceiptLine] = []
    points_value = 0
    for row in sale_store.lines_of_refund(session, refund.id):
        line = sold[row.sale_line_id]
        value = (
            line.points_value_fen * row.points_restored // line.points_used
            if line.points_used
            else 0
        )
        points_value += value
        lines.append(
            ReceiptLine(
                name=line.name,
                quantity=row.quantity,
                unit_price_fen=line.unit_price_fen,
                amount_fen=row.cash_fen + value,
                weight_g=line.weight_g,
                price_per_kg_fen=line.price_per_kg_fen,
            )
        )
    payouts = sale_store.tenders_of_refund(session, refund.id)
    member = member_store.get_member(session, sale.member_id)
    block = None
    if member is not None:
        cut = ledger_store.ledger_cut(session, member.id, refund.created_at, refund_id=refund.id)
        breakdown = []
        if refund.points_restored:
            breakdown.append(words["restored"].format(points=refund.points_restored))
        if refund.debt_points:
            breakdown.append(words["debt"].format(points=refund.debt_points))
        if refund.points_expired:
            breakdown.append(words["expired"].format(points=refund.points_expired))
        spend, points = _window_figures(session, rules, member.id, refund.created_at)
        tier = (
            member.tier
            if member.tier_since <= refund.created_at
            else qualified_tier(rules, spend, points)
        )
        block = MemberBlock(
            masked_phone=member.phone_masked,
            tier_name=rules.tier_name(tier),
            points_earned=refund.points_reversed,
            balance_after=ledger_store.balance_at(session, member.id, cut),
            earn_breakdown=breakdown,
        )
    footer = [words["refund_footer"]]
    if refund.cash_deducted_fen:
        shortfall = _shortfall_points(rules, refund.cash_deducted_fen)
        footer.append(
            words["deducted"].format(
                amount=format_fen(
                    refund.cash_deducted_fen, symbol="￥" if language == "zh_CN" else "¥"
                ),
                points=shortfall,
            )
        )
    return Receipt(
        kind="refund",
        store_name=ctx.store_name,
        store_address=settings.store_address,
        till_id=sale.till_id,
        cashier_name=_user_name(session, refund.cashier_id),
        printed_at=refund.created_at.astimezone(rules.zone),
        receipt_no=refund.refund_no,
        lines=lines,
        subtotal_fen=sum(line.amount_fen for line in lines),
        discount_fen=refund.cash_deducted_fen,
        points_used=refund.points_restored,
        points_value_fen=points_value,
        total_paid_fen=refund.cash_refund_fen,
        tenders=[Tender(_method(words, t.method), -t.amount_fen) for t in payouts],
        member=block,
        reprint=reprint,
        refund_of=sale.receipt_no,
        footer="\n".join(footer),
        language=language,
    )


def _shortfall_points(rules: RuleSet, deducted_fen: int) -> int:
    """About how many points a cash deduction paid for (for the explanation only)."""
    return deducted_fen * rules.spending.points_per_yuan // 100
