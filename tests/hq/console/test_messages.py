"""The console's words: every key in Chinese and English, every key used is known; the
charting library is the pinned file shipped in the package, never fetched from elsewhere."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pos_app.hq.console import messages

CONSOLE = Path(messages.__file__).parent
# keys built in templates: 'prefix_' + value, with every value the code can produce
DYNAMIC = {
    "role_": ("viewer", "marketing", "finance", "admin"),
    "login_": ("bad_login", "locked"),
    "error_": ("forbidden", "csrf", "bad_language"),
    "span_": ("day", "week", "month"),
    "by_": ("day", "week", "month"),
    "done_": ("approved", "reversed", "approve", "reject"),
    "decision_": ("approved", "reversed"),
    "sample_": ("small", "weekly", "big"),
}
CHART_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text("utf-8")
        keys |= set(re.findall(r"\bt\('([a-z_]+)'\)", text))
        keys |= set(re.findall(r"\(\s*'([a-z_]+)',\s*'[a-z_]+'\s*\)", text))  # (label, attr)
    web = (CONSOLE / "web.py").read_text("utf-8")
    keys |= set(re.findall(r'error(?:_key)?="([a-z_]+)"', web))
    for prefix, values in DYNAMIC.items():
        keys |= {prefix + value for value in values}
    return keys


def test_every_key_has_both_languages() -> None:
    for key, texts in messages.MESSAGES.items():
        assert len(texts) == len(messages.LANGUAGES), key
        assert all(text.strip() for text in texts), key
        assert texts[0] != texts[1] or key == "app_name", key


def test_every_key_used_is_known() -> None:
    missing = used_keys() - set(messages.MESSAGES)
    assert not missing, missing


def test_chinese_is_the_default() -> None:
    assert messages.translator("xx")("nav_dashboard") == "概览"
    assert messages.translator("en")("nav_dashboard") == "Dashboard"


def test_the_charting_library_ships_pinned_with_its_licence() -> None:
    chart = CONSOLE / "static" / "chart-4.6.1.umd.min.js"
    assert hashlib.sha256(chart.read_bytes()).hexdigest() == CHART_SHA256
    assert "MIT License" in (CONSOLE / "static" / "chart-4.6.1.LICENSE.md").read_text("utf-8")
    for page in (CONSOLE / "templates").glob("*.html"):
        assert not re.search(r"(src|href)=\"(https?:)?//", page.read_text("utf-8")), page.name
