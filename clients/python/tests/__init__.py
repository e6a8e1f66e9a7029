"""Tests of the Cove Python SDK against a real stack."""
