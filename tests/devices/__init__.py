"""Tests of the device layer: receipt layout, ESC/POS bytes, printers, preview."""
