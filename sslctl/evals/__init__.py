"""Evaluations of frozen representations (linear probe, out-of-domain transfer)."""
