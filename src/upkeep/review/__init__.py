"""Responsible for the monthly maintenance review: the month read from the evidence in one pass
(`evidence_pass`), the improvement backlog folded from recurring findings and people's decisions
(`backlog`), checks that stayed failed (`streaks`), suggestions for the docs (`docs_suggestions`),
trend plots (`trends`) and the month's report put together (`month`)."""
