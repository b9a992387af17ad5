"""Optuna sweeps over recipe fields (projector depth and width, loss coefficients, ...)."""
