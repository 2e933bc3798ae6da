"""HQ's web console (``/console``): operators sign in and watch and steer the programme.

Server-rendered pages (Jinja2 templates, :mod:`pos_app.hq.console.web`) on HQ's own
modules (audit trail, adjustments, rule sets, the ledger), the dashboard read from
summaries that ``pos-hq run-jobs`` keeps up to date (:mod:`.summaries`), charts drawn by
the Chart.js shipped in ``static/`` (no CDN: HQ rooms are often offline). See
docs/console.md.
"""

from pos_app.hq.console import models as models  # registers the console's tables
