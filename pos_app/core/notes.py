"""Human-readable notes (explanations, limits) that the UI translates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Note:
    """An English template plus parameters; translated by the UI (context ``"Rules"``).

    Attributes:
        code: Stable machine-readable identifier (``"max_share"``, ``"member_day"``...).
        template: English source text with ``{name}`` placeholders.
        params: Values for the placeholders.
    """

    code: str
    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, translate: Callable[[str], str] | None = None) -> str:
        """The note as text, translated by ``translate`` when given."""
        source = translate(self.template) if translate is not None else self.template
        try:
            return source.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.template.format(**self.params)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"code": self.code, "text": self.text(), "params": dict(self.params)}
