"""Responsible for the HTML people read about runs: `run_record` (the record's sections, shared
by the report and the site's run page, as Jinja templates under `templates/`), `report` (the
report.html of a run), `notebook` (the notebook part, sanitized) and `sanitize` (the last pass
over every document).
"""
