"""The papers' claims as experiments: claim files (``claims/*.yaml``), the statistics of
their verdicts, and the runs that measure them."""
