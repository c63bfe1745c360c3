"""Responsible for the compliance audit's parts: recognising personal data (`recognizers`), each
database engine's SQL (`dialects`), a database checked against the record of processing
(`database_audit`), logs kept past their retention (`log_retention`), the evidence scanned for
personal data (`evidence_scan`), and the data-subject lookup (`subject_lookup`)."""
