"""Test helpers shared by the suites (no Django needed)."""
