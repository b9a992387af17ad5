"""Benchmarks that print figures (never assertions on wall time): each section measures
sslctl against the usual alternative side by side, in one run, as ratios."""
