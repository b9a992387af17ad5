"""``sslctl report``: comparison tables and plots read back from the MLflow store.

query (read runs, fast sqlite path) -> select (experiment, sweep, filters, status) ->
aggregate (group, seeds as mean ± std, sort, baselines, pivot; protocols per metric) ->
sheet (one neutral table) -> formats (table, markdown, csv, latex, html, json); plot
(PNG); main ties them together for the CLI.
"""
