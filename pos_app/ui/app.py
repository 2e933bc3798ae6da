"""Start the till: the application, its CJK font and translation, and the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pos_app.resources import cjk_font_path, resources_dir
from pos_app.services.startup import TillOpener, login_glance, open_for_login
from pos_app.ui.main_window import MainWindow
from pos_app.ui.qt import QApplication, QCoreApplication, QFont, QFontDatabase, QTimer, QTranslator

log = logging.getLogger(__name__)

LANGUAGES = ("zh_CN", "en")
SMOKE_MS = 300
FONT_POINT_SIZE = 11


def translation_file(lang: str) -> Path:
    """The compiled Qt translation of ``lang`` (may not exist: English is the source)."""
    return resources_dir() / "i18n" / f"pos_{lang}.qm"


def load_cjk_font(app: QApplication) -> str | None:
    """Register the shipped CJK font and make it the application font.

    Returns:
        The font family, or None when the font could not be loaded.
    """
    font_id = QFontDatabase.addApplicationFont(str(cjk_font_path()))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if not families:
        log.warning("could not load the CJK font %s", cjk_font_path())
        return None
    font = QFont(families[0])
    font.setPointSize(FONT_POINT_SIZE)
    app.setFont(font)
    return str(families[0])


def install_translator(app: QCoreApplication, lang: str) -> QTranslator | None:
    """Install the translator of ``lang``; None for English or a missing file.

    The translator is parented to ``app`` so it lives as long as the application.
    """
    if lang == "en":
        return None
    path = translation_file(lang)
    translator = QTranslator(app)
    if not path.is_file() or not translator.load(str(path)):
        log.warning("no translation for %s at %s; showing English", lang, path)
        return None
    app.installTranslator(translator)
    return translator


def setup_application(app: QApplication, lang: str) -> QTranslator | None:
    """Font and language of the till (call before creating widgets)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    app.setApplicationName("points-till")
    load_cjk_font(app)
    return install_translator(app, lang)


def open_window(db_path: Path | str) -> MainWindow:
    """The main window on the till at ``db_path``.

    A till file that is ready (encrypted, keyed, migrated, with users) shows its login
    screen at once from a raw read of the file, and the worker opens the till while the
    cashier types her PIN; any other file is opened (created, migrated) first.
    """
    glance = login_glance(db_path)
    if glance is None:
        return MainWindow(open_for_login(db_path))
    return MainWindow(TillOpener(db_path), glance=glance)


def run_till(
    db_path: Path | str,
    *,
    smoke: bool = False,
    lang: str = "zh_CN",
    screenshot: Path | str | None = None,
) -> int:
    """Run the till on the database at ``db_path``.

    Args:
        db_path: The till's SQLite file (created and migrated if needed).
        smoke: Open the window, process events briefly and exit 0 (``pos-app --smoke``).
        lang: ``"zh_CN"`` (default) or ``"en"``.
        screenshot: With ``smoke``, save a PNG of the main window before exiting.

    Returns:
        The process exit code.
    """
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    translator = setup_application(app, lang)
    window = open_window(db_path)
    window.show()
    if smoke:

        def finish() -> None:
            if screenshot is not None:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(screenshot))
            app.quit()

        QTimer.singleShot(SMOKE_MS, finish)
    try:
        code = app.exec()
    finally:
        window.shutdown()
        window.deleteLater()
        if translator is not None:
            app.removeTranslator(translator)
    return 0 if smoke else int(code)
