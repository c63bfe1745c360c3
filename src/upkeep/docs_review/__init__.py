"""The yearly documentation review: how fresh each docs page and runbook is (`freshness`), what
the built site's links and anchors resolve to (`site_links`, `external_links`), whether the
`upkeep` commands the runbooks show still parse (`commands`), and the review in one report
(`review`)."""
