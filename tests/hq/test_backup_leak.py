"""A copy of HQ's database (a leaked backup) holds no phone number, no usable token and
no member-code private key: the keys are sealed under the master key outside it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pos_app.hq import keys
from pos_app.hq.models import Base, MemberCodeKey
from tests.hq.conftest import HQ
from tests.hq.support import basket

PHONE = "13812341234"


def _dump(hq: HQ) -> str:
    """Every row of every HQ table as JSON text: what a backup holds."""
    parts = []
    with hq.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f"SELECT row_to_json(t)::text FROM {table.name} t"))
            parts += [row[0] for row in rows]
    return "\n".join(parts)


def test_a_backup_holds_no_phone_no_token_and_no_signing_key(hq: HQ) -> None:
    till = hq.till("001", "01")
    member_id, registered = till.register(PHONE, name="张三")
    hq.push_ok(hq.till1, registered, till.sale(member_id, basket(100)))
    with hq.db.read() as s:
        row = s.get(MemberCodeKey, 1)
        assert row is not None
        sealed = bytes(row.sealed_private or b"")
    private = hq.master.unseal(1, sealed)
    dump = _dump(hq)
    assert member_id in dump  # the dump is real
    for secret in (PHONE, "+86" + PHONE, PHONE[3:7] + PHONE[7:]):
        assert secret not in dump
    for token in (hq.till1, hq.till2, hq.mall, hq.admin):
        assert token not in dump
    assert private.hex() not in dump
    stranger = keys.MasterKey(bytes(32), hq.master.path)  # anyone without the file
    with pytest.raises(keys.NoSigningKey):
        stranger.unseal(1, sealed)
