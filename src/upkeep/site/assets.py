"""Responsible for the one stylesheet the generated pages share (status colours, run pages).

It is written once per build to `assets/upkeep.css`: Material pages load it through `extra_css`,
run report pages link it instead of carrying their own copy, which keeps each run page small.
"""

from __future__ import annotations

STYLESHEET_URI = "assets/upkeep.css"

STYLESHEET = """\
:root { --uk-ok: #116329; --uk-warn: #8a5a00; --uk-fail: #b3261e; --uk-error: #7a0a46;
  --uk-muted: #57606a; --uk-line: #d0d7de; --uk-soft: #f6f8fa; }
.uk-status { display: inline-block; min-width: 3.2em; padding: 0 .4em; border-radius: .25em;
  color: #fff; font-weight: 700; font-size: .8em; letter-spacing: .03em; text-align: center; }
.uk-ok { background: var(--uk-ok); } .uk-warn { background: var(--uk-warn); }
.uk-fail { background: var(--uk-fail); } .uk-error { background: var(--uk-error); }
.uk-skipped, .uk-never { background: var(--uk-muted); }
.uk-strip { display: inline-flex; gap: 2px; flex-wrap: wrap; }
a.uk-chip, span.uk-chip { display: inline-block; width: 1.35em; border-radius: .2em; color: #fff;
  font-size: .75em; font-weight: 700; text-align: center; text-decoration: none; }
.uk-chip-bad { outline: 2px solid var(--uk-fail); outline-offset: 1px; }
.uk-bad { color: var(--uk-fail); font-weight: 700; }
.uk-good { color: var(--uk-ok); }
.uk-alert { border-left: .3em solid var(--uk-fail); background: #fdecea; color: #5f1410;
  padding: .5em 1em; margin: 1em 0; }
.uk-note { border-left: .3em solid var(--uk-ok); background: #eaf5ec; padding: .5em 1em; }
table.uk-table { border-collapse: collapse; font-size: .85em; }
table.uk-table th, table.uk-table td { text-align: left; vertical-align: top;
  padding: .25em .6em; border-bottom: 1px solid var(--uk-line); }
table.uk-table th { background: var(--uk-soft); }
body.uk-run { margin: 0 auto; max-width: 72rem; padding: .5rem 1.5rem 3rem; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
body.uk-run nav { font-size: .85em; padding: .4em 0; border-bottom: 1px solid var(--uk-line); }
body.uk-run h1 { font-size: 1.5rem; } body.uk-run h2 { font-size: 1.15rem; margin-top: 1.6rem; }
body.uk-run code { font-size: .85em; overflow-wrap: anywhere; }
body.uk-run iframe { width: 100%; height: 80vh; border: 1px solid var(--uk-line); }
"""
