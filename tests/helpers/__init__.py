"""One home for what the tests share: a throwaway project driven through the real CLI
(`project`), the embedded demo (`demo`), a stand-in for `upkeep.report` (`recorder`), files
with chosen ages (`files`), hostile HTML and a parser to check it (`hostile_html`), git with a
fixed identity (`git`), a copy of the site in a git repository (`site_repo`), a throwaway
PostgreSQL cluster (`pg_cluster`), Chromium (`browser`), a tiny tmpfs (`tiny_fs`), a bind mount
(`bind_mount`), a process without root's file-permission overrides (`unprivileged`), an entry
removed at the exact moment after a listing (`vanishing`) and the real `upkeep` running in the
background, with what it started (`processes`).
"""
