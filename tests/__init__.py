"""The points till's test suite."""
