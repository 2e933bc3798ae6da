"""Tests of the pure loyalty core (pos_app.core)."""
