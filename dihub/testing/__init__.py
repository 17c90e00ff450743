"""Test kits for connector authors: `dihub.testing.acceptance` (see docs/writing-a-connector.md)."""
