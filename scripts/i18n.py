"""Build the till's translations: lupdate, fill in Chinese, lrelease.

    .venv/bin/python scripts/i18n.py          # update .ts, fill, compile .qm
    .venv/bin/python scripts/i18n.py --check  # exit 1 if a message has no translation

``pyside6-lupdate`` extracts ``self.tr(...)``, ``QCoreApplication.translate(...)`` and
``QT_TRANSLATE_NOOP(...)`` calls. The core also marks templates through an alias
(``TR = QT_TRANSLATE_NOOP``) that lupdate cannot see, so this script finds those calls
with :mod:`ast` and adds them to the ``.ts`` itself.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from i18n_zh_CN import CONTEXT_OVERRIDES, ZH_CN  # noqa: E402

BIN = ROOT / ".venv" / "bin"
SOURCES = ("pos_app/ui", "pos_app/core", "pos_app/services")
TS = ROOT / "resources" / "i18n" / "pos_zh_CN.ts"
QM = TS.with_suffix(".qm")


def source_files() -> list[Path]:
    """Every Python file lupdate scans (subpackages such as ``services/sync`` included)."""
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py"))


def aliased_messages(path: Path) -> set[tuple[str, str]]:
    """(context, text) of calls to QT_TRANSLATE_NOOP made through an alias."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {"QT_TRANSLATE_NOOP"}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in aliases
            and node.func.id != "QT_TRANSLATE_NOOP"
            and len(node.args) == 2
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            context, text = (a.value for a in node.args)  # type: ignore[attr-defined]
            found.add((context, text))
    return found


def run_lupdate() -> None:
    TS.parent.mkdir(parents=True, exist_ok=True)
    files = [str(p.relative_to(ROOT)) for p in source_files()]
    subprocess.run(
        [
            str(BIN / "pyside6-lupdate"),
            "-no-obsolete",
            "-locations",
            "none",
            *files,
            "-ts",
            str(TS),
        ],
        cwd=ROOT,
        check=True,
    )


def fill(check_only: bool) -> list[tuple[str, str]]:
    """Add aliased messages, write the translations. Returns untranslated messages."""
    tree = ET.parse(TS)
    root = tree.getroot()
    root.set("language", "zh_CN")
    root.set("sourcelanguage", "en")
    contexts = {c.findtext("name"): c for c in root.iter("context")}
    present = {
        (c.findtext("name"), m.findtext("source"))
        for c in root.iter("context")
        for m in c.iter("message")
    }
    extra: set[tuple[str, str]] = set()
    for path in source_files():
        extra |= aliased_messages(path)
    for context, text in sorted(extra - present):
        ctx = contexts.get(context)
        if ctx is None:
            ctx = ET.SubElement(root, "context")
            ET.SubElement(ctx, "name").text = context
            contexts[context] = ctx
        message = ET.SubElement(ctx, "message")
        ET.SubElement(message, "source").text = text
        ET.SubElement(message, "translation")
    missing: list[tuple[str, str]] = []
    for ctx in root.iter("context"):
        name = ctx.findtext("name") or ""
        for message in ctx.iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            if translation is None:
                translation = ET.SubElement(message, "translation")
            text = CONTEXT_OVERRIDES.get((name, source), ZH_CN.get(source))
            if text is None:
                missing.append((name, source))
                translation.set("type", "unfinished")
                continue
            translation.text = text
            translation.attrib.pop("type", None)
    if not check_only:
        ET.indent(tree)
        body = ET.tostring(root, encoding="unicode")
        TS.write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n",
            encoding="utf-8",
        )
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing translations")
    args = parser.parse_args()
    if not args.check:
        run_lupdate()
    missing = fill(args.check)
    for context, source in missing:
        print(f"untranslated [{context}] {source}", file=sys.stderr)
    if not args.check:
        subprocess.run(
            [str(BIN / "pyside6-lrelease"), str(TS), "-qm", str(QM)], cwd=ROOT, check=True
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
