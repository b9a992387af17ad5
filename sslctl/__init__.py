"""sslctl: an experiment orchestrator for joint-embedding self-supervised learning."""

__version__ = "0.1.0"
