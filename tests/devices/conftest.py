"""Fixtures for the device tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pos_app.devices.receipt import Receipt
from pos_app.devices.samples import sample_receipt
from tests.devices.fake_printer import FakePrinter


@pytest.fixture
def fake_printer() -> Iterator[FakePrinter]:
    """A healthy fake network printer on an ephemeral port."""
    with FakePrinter() as printer:
        yield printer


@pytest.fixture
def member_receipt() -> Receipt:
    """The sample sale with a member block, a QR code and a long product name."""
    return sample_receipt()
