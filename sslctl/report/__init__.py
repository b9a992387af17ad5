"""``sslctl report``: comparison tables and plots read back from the MLflow store."""
