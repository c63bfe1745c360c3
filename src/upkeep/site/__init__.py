"""Responsible for the site: an MkDocs plugin (`upkeep.site.plugin`) and macros
(`upkeep.site.macros`) that turn the runbook registry and the evidence into a dashboard, runbook
pages, the plan's checklist and browsable run reports; `upkeep site build|serve|publish` drive it.

Nothing is imported here, so `import upkeep.site.publish` stays cheap."""
