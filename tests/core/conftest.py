"""Fixtures for the loyalty-core tests."""

from __future__ import annotations

import pytest

from pos_app.core.rules import RuleSet
from tests.core.core_support import default_rules


@pytest.fixture
def rules() -> RuleSet:
    """The shipped default rule set."""
    return default_rules()
