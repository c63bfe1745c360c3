"""upkeep.yml loading: every mistake is one ConfigError naming the file, key and expectation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.project import SHIPPED_RUNBOOKS, Project

from upkeep.config import Limit, LogCreate, load_config
from upkeep.config.system_paths import not_disposable
from upkeep.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _load(tmp_path: Path, text: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(text)
    return load_config(path)


def test_shipped_config_points_at_the_demo() -> None:
    config = load_config(REPO / "upkeep.yml")
    assert config.demo is not None and config.demo.root == REPO / "var" / "demo"
    assert {s.kind for s in config.services} == {"http", "tcp", "process"}
    assert config.logs[0].path == REPO / "var" / "demo" / "logs" / "app.log"


def test_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    config = _load(tmp_path, "evidence_dir: ev\nlogs:\n  - {name: a, path: logs/a.log}\n")
    assert config.evidence_dir == tmp_path / "ev"
    assert config.logs[0].path == tmp_path / "logs" / "a.log"
    assert config.state_dir == tmp_path / "var" / "state"


def test_thresholds_override_only_what_is_given(tmp_path: Path) -> None:
    config = _load(tmp_path, "thresholds:\n  disk_percent: {warn: 70}\n")
    assert config.thresholds.disk_percent == Limit(70, 90)
    assert config.thresholds.cpu_percent == Limit(85, 95)
    assert Limit(70, 90).grade(69.9) == "ok"
    assert Limit(70, 90).grade(70) == "warn"
    assert Limit(70, 90).grade(90) == "fail"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: Mars/Olympus\n", "timezone: expected an IANA time zone"),
        # bounds: such values passed `upkeep check`, then overflowed a date in the run
        (
            "maintenance_review: {window_days: 1000000}\n",
            "maintenance_review.window_days: expected an integer from 1 to 3660, got 1000000",
        ),
        (
            "backup: {max_full_age_days: 1.0e+300}\n",
            "backup.max_full_age_days: expected a number from 0 to 3660, got 1e+300",
        ),
        ("evidence: x\n", "evidence: unknown key"),
        ("defaults:\n  timeout_s: -5\n", "defaults.timeout_s: expected an integer >= 1, got -5"),
        (
            "defaults:\n  max_output_bytes: 100\n",
            "defaults.max_output_bytes: expected an integer from 1024 to 1073741824, got 100",
        ),
        (
            "defaults:\n  max_output_bytes: 8MB\n",
            "defaults.max_output_bytes: expected an integer, got '8MB' (str)",
        ),
        (
            "defaults:\n  timeout_s: '10'\n",
            "defaults.timeout_s: expected an integer, got '10' (str)",
        ),
        (
            "services:\n  - {name: web, kind: smoke}\n",
            "services[0].kind: expected one of http, tcp, process, got 'smoke'",
        ),
        (
            "services:\n  - {name: web, kind: tcp, host: h}\n",
            "services[0].port: required for a service of kind tcp",
        ),
        (
            "services:\n  - {name: web, kind: http, url: ftp://x}\n",
            "services[0].url: expected an http:// or https:// URL",
        ),
        (
            "services:\n  - {name: web, kind: http, url: 'http://x/', port: 80}\n",
            "services[0].port: unknown key",
        ),
        (
            "services:\n  - {name: db, kind: tcp, host: h, port: 70000}\n",
            "services[0].port: expected a TCP port from 1 to 65535",
        ),
        (
            "services:\n  - {name: a, kind: process, process: x}\n"
            "  - {name: a, kind: process, process: y}\n",
            "name 'a' is used twice",
        ),
        (
            "logs:\n  - {name: a, path: a.log, error_patterns: ['(unclosed']}\n",
            "is not a valid regular expression",
        ),
        (
            "thresholds:\n  cpu_percent: {warn: 90, fail: 80}\n",
            "expected fail (80.0) >= warn (90.0)",
        ),
        (
            "thresholds:\n  cpu_percent: {warn: true}\n",
            "thresholds.cpu_percent.warn: expected a number",
        ),
        (
            "databases:\n  - {name: pg, engine: postgresql, dbname: app, password: hunter2}\n",
            "databases[0].password: expected a secret reference",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {keep: 3}}\n",
            "logs[0].rotate: expected max_bytes, max_age_days or both",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, method: move}}\n",
            "logs[0].rotate.method: expected one of rename, copytruncate, got 'move'",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, signal: SIGNOPE}}\n",
            "logs[0].rotate.signal: expected a signal name",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, period: fortnightly}}\n",
            "logs[0].rotate.period: expected one of hourly, daily, weekly, monthly",
        ),
        (
            "cleanup:\n  temp_roots:\n    - {path: tmp, max_age_days: .nan}\n",
            "cleanup.temp_roots[0].max_age_days: expected a number (finite), got nan",
        ),
        (
            "thresholds:\n  cpu_percent: {warn: 90, fail: .inf}\n",
            "thresholds.cpu_percent.fail: expected a number (finite), got inf",
        ),
        (
            "cleanup:\n  temp_roots: [{path: tmp}]\n  cache_roots: [{path: tmp/cache}]\n",
            "cleanup.cache_roots[0].path (/PROJECT/tmp/cache) is inside cleanup.temp_roots[0].path"
            " (/PROJECT/tmp); expected cleaning roots that do not overlap",
        ),
        (
            "cleanup:\n  cache_roots: [{path: tmp/cache}, {path: tmp}]\n",
            "cleanup.cache_roots[0].path (/PROJECT/tmp/cache) is inside cleanup.cache_roots[1]",
        ),
        (
            "cleanup:\n  temp_roots: [{path: tmp}, {path: ./tmp/}]\n",
            "cleanup.temp_roots[0].path and cleanup.temp_roots[1].path are the same directory",
        ),
        (
            "databases:\n  - {name: kunden db, engine: sqlite, path: k.db}\n",
            "databases[0].name: expected letters, digits, '.', '_' or '-' (first a letter or"
            " digit, at most 100 characters), got 'kunden db': it names the database's backups",
        ),
        (
            "databases:\n  - {name: ../escape, engine: sqlite, path: k.db}\n",
            "databases[0].name: expected letters, digits",
        ),
        ("backup: {mode: differential}\n", "backup.mode: expected one of full, incremental"),
        (
            "backup: {compression_level: 0}\n",
            "backup.compression_level: expected an integer from 1 to 22, or from -1 to -7 (zstd's"
            " fast levels), got 0",
        ),
        ("backup: {compression_level: 23}\n", "backup.compression_level: expected an integer from"),
        ("backup: {compression_level: -8}\n", "backup.compression_level: expected an integer from"),
        ("- just\n- a list\n", "top level: expected a mapping"),
        ("key: [unclosed\n", "not valid YAML"),
        ("", "the config file is empty"),
        ("# only a comment\n\n", "the config file is empty"),
        (
            "version: 1\ntimezone: UTC\nversion: 1\n",
            "line 3: key 'version' is given twice (first on line 1); expected each key once",
        ),
        (
            "cleanup:\n  dry_run: true\n  protect: []\n  dry_run: false\n",
            "line 4: key 'dry_run' is given twice (first on line 2)",
        ),
        ("services:\n  - {name: a, name: b, kind: process, process: x}\n", "key 'name'"),
        (
            "demo: {root: d, http_port: 99999}\n",
            "demo.http_port: expected a TCP port from 1 to 65535, got 99999 (int)",
        ),
        ("demo: {root: d, http_port: 0}\n", "demo.http_port: expected a TCP port"),
        ("evidence_dir: /\n", "evidence_dir: / is a system directory; expected a directory"),
        ("evidence_dir: /etc\n", "evidence_dir: /etc is a system tree"),
        ("state_dir: /var\n", "state_dir: /var is a system directory"),
        ("state_dir: .\n", "is the project itself (where upkeep.yml lives)"),
        # The state in the evidence: verify then named its files as folders added by hand.
        ("state_dir: evidence/runs\n", "state_dir (/PROJECT/evidence/runs) and evidence_dir"),
        ("evidence_dir: var/state/ev\n", "overlap; expected two folders apart"),
        ("state_dir: evidence\n", "overlap; expected two folders apart"),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10}}\n",
            "logs[0].rotate: method rename moves the log aside, and a writer nobody tells "
            "keeps writing to the moved copy; expected pid_file",
        ),
        (
            "logs:\n  - {name: a, path: a.log, first_scan: yesterday}\n",
            "logs[0].first_scan: expected end, whole or a window such as 90m, 24h or 7d,"
            " got 'yesterday'",
        ),
        (
            "logs:\n  - {name: a, path: a.log, first_scan: 24}\n",
            "logs[0].first_scan: expected end, whole or a window such as 24h, got 24 (int)",
        ),
        (
            "logs:\n  - {name: a, path: a.log, retention_days: 0}\n",
            "logs[0].retention_days: expected an integer >= 1, got 0 (int)",
        ),
        (
            "logs:\n  - {name: a, path: '/var/log/*/error.log'}\n",
            "logs[0].path: /var/log/*/error.log: only the file name may hold wildcards",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, method: copytruncate,"
            " create: {mode: '0640'}}}\n",
            "logs[0].rotate.create: only method rename creates a new log file",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, postrotate: 'true',"
            " create: {mode: 0640}}}\n",
            "logs[0].rotate.create.mode: expected an octal mode as a quoted string, such as"
            " '0640', got 416 (int)",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, postrotate: 'true',"
            " create: {owner: no-such-user-here}}}\n",
            "logs[0].rotate.create.owner: no user 'no-such-user-here' on this machine",
        ),
        (
            "logs:\n  - {name: a, path: a.log, rotate: {max_bytes: 10, postrotate: 'true',"
            " create: {group: root, size: 1}}}\n",
            "logs[0].rotate.create.size: unknown key",
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message.replace("/PROJECT", str(tmp_path)) in str(caught.value)
    assert str(tmp_path / "upkeep.yml") in str(caught.value)


def test_a_config_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "upkeep.yml"
    path.write_bytes(b"version: 1\ntimezone: Europe/Z\xfcrich\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: not valid UTF-8 at byte 29 (line 2): byte 0xfc; expected a UTF-8 text file"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"version: 1\n\xff\xfe\n", "not valid UTF-8 at byte 11 (line 2)"),
        (b"version: 1\nversion: 1\n", "key 'version' is given twice"),
        (b"", "the config file is empty"),
    ],
)
def test_the_command_line_refuses_a_broken_config_with_exit_2(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "upkeep.yml").write_bytes(content)
    result = Project(tmp_path).upkeep_in_process("list")
    assert result.code == 2
    assert f"{tmp_path / 'upkeep.yml'}: " in result.text and message in result.text
    assert "Traceback" not in result.text


def test_a_merge_key_may_override_what_it_merges(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "thresholds:\n  cpu_percent: &limits {warn: 70, fail: 90}\n"
        "  memory_percent: {<<: *limits, warn: 80}\n",
    )
    assert config.thresholds.memory_percent == Limit(80, 90)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")


def test_config_is_frozen(tmp_path: Path) -> None:
    config = _load(tmp_path, "version: 1\n")
    with pytest.raises(AttributeError):
        config.timezone = "x"  # type: ignore[misc]


def test_log_rotation_section(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "logs:\n  - name: a\n    path: a.log\n"
        "    rotate: {max_bytes: 1024, keep: 3, pid_file: run/a.pid, signal: SIGUSR1}\n"
        "  - {name: b, path: b.log}\n",
    )
    rotation = config.logs[0].rotate
    assert rotation is not None
    assert (rotation.max_bytes, rotation.max_age_days, rotation.keep) == (1024, None, 3)
    assert rotation.pid_file == tmp_path / "run" / "a.pid"
    assert (rotation.method, rotation.signal, rotation.compress) == ("rename", "SIGUSR1", True)
    assert config.logs[1].rotate is None


def test_a_log_may_declare_how_long_its_lines_may_be_kept(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "logs:\n  - {name: a, path: a.log, retention_days: 90}\n  - {name: b, path: b.log}\n",
    )
    assert [log.retention_days for log in config.logs] == [90, None]


def test_rename_with_a_postrotate_command_needs_no_pid_file(tmp_path: Path) -> None:
    # As logrotate's nginx and rsyslog entries do: the command makes the writer reopen.
    config = _load(
        tmp_path,
        "logs:\n  - name: nginx\n    path: /var/log/nginx/*.log\n    rotate:\n"
        "      max_age_days: 1\n      postrotate: 'kill -USR1 $(cat /run/nginx.pid)'\n"
        "      create: {mode: '0640', owner: root, group: '0'}\n",
    )
    [log] = config.logs
    assert log.path == Path("/var/log/nginx/*.log")
    assert log.rotate is not None and log.rotate.pid_file is None
    assert log.rotate.postrotate == "kill -USR1 $(cat /run/nginx.pid)"
    assert log.rotate.create == LogCreate(mode=0o640, owner="root", group="0")


def test_cleanup_and_backup_sections(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    config = _load(
        tmp_path,
        "cleanup:\n  temp_roots:\n    - {path: tmp, max_age_days: 3}\n"
        "  protect: ['*.keep']\nbackup: {dir: backups, mode: incremental}\n",
    )
    assert config.cleanup.temp_roots[0].path == tmp_path / "tmp"
    assert config.cleanup.temp_roots[0].max_age_days == 3
    assert config.cleanup.protect == ("*.keep",)
    assert config.backup.mode == "incremental" and config.backup.dir == tmp_path / "backups"


@pytest.mark.parametrize(
    ("root", "what"),
    [
        ("/", "the filesystem root"),
        ("/home", "/home"),
        ("~", "the user's home directory"),
        (".", "the project"),
        ("evidence", "the evidence directory"),
        ("..", "the project"),  # a parent of the project contains it
    ],
)
def test_dangerous_cleanup_roots_are_refused(tmp_path: Path, root: str, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: '{root}'}}\n")
    assert "cleanup.temp_roots[0].path" in str(caught.value) and what in str(caught.value)


@pytest.mark.parametrize(
    ("root", "why"),
    [
        ("/etc", "/etc is a system tree where nothing is disposable"),
        ("/etc/ssl", "/etc/ssl is inside /etc, a system tree where nothing is disposable"),
        ("/usr/share/doc", "/usr/share/doc is inside /usr, a system tree"),
        ("/lib64", "/lib64 is a system tree"),
        ("/boot", "/boot is a system tree"),
        ("/var/spool/cron", "/var/spool/cron is inside /var/spool, a system tree"),
        ("/var", "/var is a system directory"),
        ("/var/lib", "/var/lib is a system directory"),
        ("/var/log", "/var/log is a system directory"),
        ("/var/lib/dpkg", "/var/lib/dpkg is a package's whole state"),
        ("/opt", "/opt is a system directory"),
        ("/srv", "/srv is a system directory"),
        ("/home/someone", "/home/someone is a person's home"),
    ],
)
def test_system_directories_are_refused_as_cleanup_roots(
    tmp_path: Path, root: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"cleanup:\n  cache_roots:\n    - {{path: '{root}'}}\n")
    message = str(caught.value)
    assert f"cleanup.cache_roots[0].path: {why}" in message
    assert message.endswith("expected a dedicated temp or cache directory")


@pytest.mark.parametrize(
    "root", ["/tmp/app-uploads", "/var/tmp/app", "/var/cache/app", "/opt/app/cache"]
)
def test_temp_directories_and_dedicated_folders_stay_allowed(tmp_path: Path, root: str) -> None:
    config = _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: '{root}'}}\n")
    assert config.cleanup.temp_roots[0].path == Path(root)
    # /tmp and /var/tmp themselves are allowed too (here /tmp holds the test's project).
    assert not_disposable(Path("/tmp")) is None and not_disposable(Path("/var/tmp")) is None


SYSTEM_AT_TMP = """\
state_dir: state
databases:
  - {name: app, engine: sqlite, path: data/app.db}
logs:
  - {name: web, path: logs/web.log, rotate: {max_bytes: 10, pid_file: run/web.pid}}
backup: {dir: backups}
cleanup:
  temp_roots:
    - {path: '%s', max_age_days: 0}
"""


@pytest.mark.parametrize(
    ("root", "why"),
    [
        ("data", "contains the database file of 'app' ({base}/data/app.db)"),
        ("logs", "contains the log 'web' ({base}/logs/web.log)"),
        ("run", "contains the pid file of log 'web' ({base}/run/web.pid)"),
        ("evidence/runs", "is inside the evidence directory"),
        ("evidence/runs/2026/11", "is inside the evidence directory"),
        ("state/logscan", "is inside upkeep's state directory"),
        ("backups/app", "is inside the backup store"),
        ("runbooks/daily", "is inside the runbooks"),
    ],
)
def test_roots_holding_or_inside_what_the_system_keeps_are_refused(
    tmp_path: Path, root: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, SYSTEM_AT_TMP % root)
    assert f"temp_roots[0].path: {tmp_path / root} {why.format(base=tmp_path)};" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("root", "why"),
    [
        ("//etc/ssl", "/etc/ssl is inside /etc, a system tree where nothing is disposable"),
        ("///var/lib", "/var/lib is a system directory"),
        ("//", "/ is or contains the filesystem root"),
        ("//home", "/home is or contains /home"),
    ],
)
def test_a_root_written_with_a_leading_double_slash_is_the_same_directory(
    tmp_path: Path, root: str, why: str
) -> None:
    # POSIX lets `//` be a root of its own and pathlib kept it: `//etc/ssl` compared unequal
    # to every guarded path while opening /etc/ssl, and the CA certificates were cleaned.
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: '{root}'}}\n")
    assert f"temp_roots[0].path: {why}" in str(caught.value)


def test_a_root_written_with_a_leading_double_slash_overlaps_its_plain_form(
    tmp_path: Path,
) -> None:
    (tmp_path / "cache").mkdir()
    with pytest.raises(ConfigError, match="are the same directory"):
        _load(
            tmp_path,
            f"cleanup:\n  temp_roots:\n    - {{path: '{tmp_path}/cache'}}\n"
            f"    - {{path: '/{tmp_path}/cache'}}\n",
        )


def test_a_log_named_through_a_symlinked_folder_guards_the_real_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "app.log").write_text("x\n")
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            "logs:\n  - {name: app, path: link/app.log}\n"
            "cleanup:\n  temp_roots:\n    - {path: real}\n",
        )
    assert f"{tmp_path / 'real'} contains the log 'app' ({tmp_path / 'real' / 'app.log'})" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("setting", "root", "named"),
    [
        (
            "alerts: {targets: [{name: ops, inbox: var/alerts/inbox}]}",
            "var/alerts",
            "alerts.targets.inbox",
        ),
        ("metrics: {textfile: var/metrics/upkeep.prom}", "var/metrics", "metrics.textfile"),
        ("security: {baseline: demo/baseline.yml}", "demo", "security.baseline"),
    ],
)
def test_a_root_holding_another_file_upkeep_yml_names_is_refused(
    tmp_path: Path, setting: str, root: str, named: str
) -> None:
    (tmp_path / root).mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"{setting}\ncleanup:\n  temp_roots:\n    - {{path: {root}}}\n")
    assert f"{tmp_path / root} contains what upkeep.yml names as {named} (" in str(caught.value)


def test_places_upkeep_only_looks_at_may_be_cleaning_roots(tmp_path: Path) -> None:
    # A temp directory the security review scans, or a mount whose use is measured, is often
    # exactly the directory cleaning keeps small.
    (tmp_path / "scratch").mkdir()
    config = _load(
        tmp_path,
        f"security: {{temp_paths: ['{tmp_path}/scratch']}}\n"
        f"mounts:\n  - {{path: '{tmp_path}/scratch'}}\n"
        "cleanup:\n  temp_roots:\n    - {path: scratch}\n",
    )
    assert config.cleanup.temp_roots[0].path == tmp_path / "scratch"


def test_a_root_through_a_symlinked_parent_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "tmp").mkdir(parents=True)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "link").symlink_to(outside)
    for written in ("var/link/tmp", "var/link/../tmp"):
        with pytest.raises(ConfigError) as caught:
            _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: {written}}}\n")
        assert (
            f"temp_roots[0].path: {tmp_path / 'var' / 'link'} is a symlink (to {outside}); "
            "name the real directory"
        ) in str(caught.value)


def test_the_root_is_kept_as_written_not_resolved(tmp_path: Path) -> None:
    (tmp_path / "var" / "tmp").mkdir(parents=True)
    config = _load(tmp_path, "cleanup:\n  temp_roots:\n    - {path: ./var/x/../tmp}\n")
    assert str(config.cleanup.temp_roots[0].path) == str(tmp_path / "var" / "tmp")


@pytest.mark.parametrize(
    ("marker", "root", "why"),
    [
        ("pg/PG_VERSION", "pg", "is a PostgreSQL data directory (it holds PG_VERSION)"),
        ("pg/PG_VERSION", "pg/base", "is inside {base}/pg, a PostgreSQL data directory"),
        ("repo/.git/HEAD", "repo", "is a git work tree (it holds .git)"),
    ],
)
def test_database_clusters_and_git_work_trees_are_refused_as_roots(
    tmp_path: Path, marker: str, root: str, why: str
) -> None:
    (tmp_path / marker).parent.mkdir(parents=True)
    (tmp_path / marker).write_text("15\n")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"cleanup:\n  temp_roots:\n    - {{path: {root}}}\n")
    assert f"{tmp_path / root} {why.format(base=tmp_path)}" in str(caught.value)


def test_symlinked_cleanup_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="is a symlink"):
        _load(tmp_path, "cleanup:\n  cache_roots:\n    - {path: link}\n")


def test_a_symlinked_log_path_is_kept_as_written(tmp_path: Path) -> None:
    # Rotation must see the symlink (and refuse it), not the file it points at.
    (tmp_path / "real.log").write_text("x\n")
    (tmp_path / "app.log").symlink_to(tmp_path / "real.log")
    config = _load(tmp_path, "logs:\n  - {name: a, path: ./logs/../app.log}\n")
    assert config.logs[0].path == tmp_path / "app.log"


# --- a config of a user's own: several runbook folders, their own sections, every problem ---


def test_runbooks_dir_lists_the_shipped_runbooks_and_folders_of_ones_own(tmp_path: Path) -> None:
    from upkeep import registry
    from upkeep.package_files import SHIPPED_RUNBOOKS_DIR

    (tmp_path / "mine" / "weekly").mkdir(parents=True)
    Project(tmp_path).add_runbook("disk-report", [("code", "pass")], cadence="weekly")
    (tmp_path / "runbooks" / "weekly" / "disk-report.ipynb").rename(
        tmp_path / "mine" / "weekly" / "disk-report.ipynb"
    )
    config = _load(tmp_path, "runbooks_dir: [upkeep:shipped, mine]\n")
    assert tuple(config.runbooks_dir) == (SHIPPED_RUNBOOKS_DIR, tmp_path / "mine")
    assert str(config.runbooks_dir) == f"{SHIPPED_RUNBOOKS_DIR}, {tmp_path / 'mine'}"
    found = registry.discover(config.runbooks_dir, config.root)
    assert set(found) == {*SHIPPED_RUNBOOKS, "disk-report"}
    assert found["disk-report"].relpath == "mine/weekly/disk-report.ipynb"
    # A config outside the checkout names a shipped runbook by where it comes from.
    assert found["health-check"].relpath == "upkeep:shipped/daily/health-check.ipynb"
    assert not found.invalid


def test_one_runbooks_folder_may_still_be_a_plain_string(tmp_path: Path) -> None:
    config = _load(tmp_path, "runbooks_dir: procedures\n")
    assert tuple(config.runbooks_dir) == (tmp_path / "procedures",)


def test_a_runbook_name_in_two_folders_is_refused_by_name(tmp_path: Path) -> None:
    from upkeep import registry

    project = Project(tmp_path)
    project.add_runbook("health-check", [("code", "pass")])
    config = _load(tmp_path, "runbooks_dir: [upkeep:shipped, runbooks]\n")
    found = registry.discover(config.runbooks_dir, config.root)
    assert "health-check" not in found and set(found) == set(SHIPPED_RUNBOOKS) - {"health-check"}
    message = found.invalid["health-check"].message
    assert "defined twice" in message and "runbooks/daily/health-check.ipynb" in message
    assert "upkeep:shipped/daily/health-check.ipynb" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runbooks_dir: [a, ./a]\n", "runbooks_dir: './a' is listed twice"),
        ("runbooks_dir: []\n", "runbooks_dir: expected a folder, or a list of folders"),
        ("runbooks_dir: [a, 3]\n", "runbooks_dir: expected a folder, or a list of folders"),
        ("extra: [1, 2]\n", "extra: expected a mapping, got a list"),
        ("site: {docs_dir: nowhere}\n", "site.docs_dir: "),
        ("site: {site_dir: /etc}\n", "site.site_dir: /etc is a system tree"),
        ("site: {site_dir: .}\n", "site.site_dir: "),
        ("site: {theme: dark}\n", "site.theme: unknown key"),
        (
            "services:\n  - {name: w, kind: process}\n",
            "services[0]: a process service needs process",
        ),
        (
            "services:\n  - {name: w, kind: process, command: /usr/sbin/nginx}\n",
            "services[0].command: expected a process name such as nginx (not a path)",
        ),
    ],
)
def test_mistakes_in_the_new_sections_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    assert message in str(raised.value)


def test_runbooks_read_their_own_settings_under_extra(tmp_path: Path) -> None:
    config = _load(tmp_path, "extra:\n  disk-report:\n    paths: [/srv]\n    top: 5\n")
    assert config.extra["disk-report"] == {"paths": ["/srv"], "top": 5}
    with pytest.raises(TypeError):
        config.extra["other"] = {}  # type: ignore[index]


def test_the_site_section(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    config = _load(tmp_path, "site: {name: ACME upkeep, docs_dir: pages, site_dir: public}\n")
    assert config.site.name == "ACME upkeep"
    assert config.site.docs_dir == tmp_path / "pages"
    assert config.site.site_dir == tmp_path / "public"


def test_a_process_service_may_name_its_user_command_and_pid_file(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "services:\n"
        "  - {name: web, kind: process, command: nginx, user: www-data}\n"
        "  - {name: db, kind: process, pid_file: run/pg.pid}\n",
    )
    web, db = config.services
    assert (web.command, web.user, web.process) == ("nginx", "www-data", None)
    assert db.pid_file == tmp_path / "run" / "pg.pid"


def test_every_problem_of_a_config_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(
            tmp_path,
            "timezone: Mars/Olympus\n"
            "services:\n"
            "  - {name: ok, kind: tcp, host: localhost, port: 1}\n"
            "  - {name: bad, kind: smoke}\n"
            "  - {name: w, kind: process}\n"
            "backup: {mode: sometimes}\n"
            "colour: blue\n",
        )
    text = str(raised.value)
    assert text.startswith(f"{tmp_path / 'upkeep.yml'}: 5 problems:\n")
    for message in (
        "timezone: expected an IANA time zone",
        "services[1].kind: expected one of http, tcp, process",
        "services[2]: a process service needs process",
        "backup.mode: expected one of full, incremental",
        "colour: unknown key",
    ):
        assert message in text


def test_a_file_where_the_backup_store_should_be_is_refused(tmp_path: Path) -> None:
    # It passed `upkeep check`; the weekly verification then said "no backup yet" for good.
    (tmp_path / "store").write_text("not a folder\n")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "backup: {dir: store}\n")
    assert "backup.dir: expected a folder for the backup store (made on the first backup)" in str(
        caught.value
    )


def test_a_fifo_for_a_config_or_fleet_file_is_an_error_not_a_wait(tmp_path: Path) -> None:
    # `--config fifo.yml` and `verify --fleet fifo.yml` blocked for ever.
    from upkeep.config.fleet import read_fleet

    os.mkfifo(tmp_path / "fifo.yml")
    with pytest.raises(ConfigError, match="cannot read config file: not a regular file"):
        load_config(tmp_path / "fifo.yml")
    with pytest.raises(ConfigError, match="cannot read the fleet file: not a regular file"):
        read_fleet(tmp_path / "fifo.yml")
    from upkeep.config.oncall import read_oncall

    with pytest.raises(ConfigError, match="cannot read the on-call rotation: not a regular file"):
        read_oncall(tmp_path / "fifo.yml", "UTC")
