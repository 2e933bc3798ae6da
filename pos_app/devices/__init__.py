"""Devices: receipt printers (and later scanners, the cash drawer).

* :mod:`~pos_app.devices.receipt` - what a receipt says (plain frozen dataclasses).
* :mod:`~pos_app.devices.layout` - columns, widths, wrapping; a receipt as layout ops.
* :mod:`~pos_app.devices.escpos_render` - layout ops to ESC/POS bytes for a printer profile.
* :mod:`~pos_app.devices.printers` - ``open_printer(uri).send(bytes)`` over python-escpos.
* :mod:`~pos_app.devices.preview` - the same ops drawn as a PNG (no printer configured).
* :mod:`~pos_app.devices.samples` - sample receipts (test page, docs, benchmarks).

This package knows ``pos_app.core`` and ``pos_app.resources`` only: never the store, the
services, the UI or Qt.
"""
