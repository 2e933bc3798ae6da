"""Test and benchmark support code (not collected as tests)."""
