"""Tests for upkeep.logs.templates: a line's template in the formats real systems write, and the
cache that gives the same templates as masking each line."""

from __future__ import annotations

from collections import defaultdict

import pytest
from helpers.real_logs import FORMATS, generate
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.logs import templates
from upkeep.logs.templates import TemplateCache, mask_message, path_template

STAMP = "2026-11-16 02:15:00,123"


def test_mask_merges_lines_that_differ_only_in_numbers() -> None:
    a = mask_message(f"{STAMP} ERROR   [web] timeout after 31s for id 812")
    b = mask_message("2026-11-17T08:00:01.5Z ERROR timeout after 32s for id 9")
    assert a == "[web] timeout after <N>s for id <N>"
    assert b == "timeout after <N>s for id <N>"


def test_mask_hides_ids_addresses_and_quoted_values() -> None:
    line = (
        "WARNING request 6a48e215-b407-feb4-dc7b-0428c22369ed from 10.0.3.17:443"
        " token c198f0b3ec user 'bob' said \"hi 2\""
    )
    assert mask_message(line) == "request <UUID> from <IP> token <HEX> user <STR> said <STR>"
    assert mask_message("can't open 3 files") == "can't open <N> files"


@pytest.mark.parametrize(
    ("line", "template"),
    [
        (
            '{"time":"2026-11-16T02:15:00Z","level":"ERROR","msg":"db timeout after 31s"}',
            "db timeout after <N>s",
        ),
        ('{"level":"error","msg":"disk full on /var","path":"/var"}', "disk full on /var"),
        (
            '{"level":50,"logger":"payments","message":"provider \\"acme\\" refused 812"}',
            "payments: provider <STR> refused <N>",
        ),
        ('{"event": "user 42 logged out", "level": "warning"}', "user <N> logged out"),
        (
            'time=2026-11-16T02:15:00Z level=error msg="db timeout after 31s" id=7',
            "db timeout after <N>s",
        ),
        ("level=warn msg=retrying attempt=3", "retrying"),
        # Not logfmt: msg= inside a plain line is masked as before.
        ('2026-11-16 02:15:00 ERROR failed msg="x"', "failed msg=<STR>"),
        # JSON without a message field: masked whole, as before.
        ('{"a":"b","n":1}', "{<STR>:<STR>,<STR>:<N>}"),
    ],
)
def test_structured_lines_are_grouped_by_their_message(line: str, template: str) -> None:
    assert mask_message(line) == template
    assert TemplateCache().template(line.encode()) == template


def test_templates_are_cut_to_a_few_hundred_bytes_and_marked() -> None:
    template = mask_message("ERROR " + "é" * 400)
    assert template.endswith("…") and len(template.encode()) <= templates.TEMPLATE_BYTES + 3
    assert mask_message("ERROR short") == "short"


# ---------------------------------------------------------------- real formats

ACCESS = (
    '10.1.2.3 - - [16/Nov/2026:02:15:00 +0000] "GET /api/orders/812 HTTP/1.1" 502 157'
    ' "-" "Mozilla/5.0 (X11; Linux x86_64)"'
)


@pytest.mark.parametrize(
    ("line", "template"),
    [
        (ACCESS, "GET /api/orders/<N> 502"),
        (  # Apache's common format, a vhost in front, a size of "-"
            "shop.example.com:443 10.1.2.3 - alice [16/Nov/2026:02:15:00 +0100]"
            ' "POST /api/sessions/9f86d081884c7d65 HTTP/2.0" 503 -',
            "POST /api/sessions/<HEX> 503",
        ),
        (
            '10.1.2.3 - - [16/Nov/2026:02:15:00 +0000] "GET /search?q=shoes&page=2 HTTP/1.1"'
            ' 504 0 "-" "curl/8.5.0"',
            "GET /search?<Q> 504",
        ),
        (
            '10.1.2.3 - - [16/Nov/2026:02:15:00 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
            "<STR> 400",
        ),
        (
            "2026/11/16 02:15:00 [error] 1234#1234: *5678 connect() failed (111: Connection"
            " refused) while connecting to upstream, client: 10.1.2.3, server: shop, request:"
            ' "GET /api/orders/812 HTTP/1.1", upstream: "http://127.0.0.1:8080/api/orders/812"',
            "connect() failed (<N>: Connection refused) while connecting to upstream, client:"
            ' <IP>, server: shop, request: "GET /api/orders/<N>", upstream: <STR>',
        ),
        (
            "[Sun Nov 16 02:15:00.123456 2026] [proxy_http:error] [pid 2345:tid 140123]"
            " [client 10.1.2.3:51234] AH01114: HTTP: failed to make connection to backend",
            "AH<N>: HTTP: failed to make connection to backend",
        ),
        (
            "[Mon Nov 17 02:15:00 2026] [error] [client 10.1.2.3] File does not exist: /x",
            "File does not exist: /x",
        ),
        (
            "Nov  6 02:15:00 web1 sshd[1234]: error: kex_exchange_identification: read",
            "sshd: error: kex_exchange_identification: read",
        ),
        (
            "2026-11-16T02:15:00.123456+00:00 web1 systemd[1]: nginx.service: Failed",
            "systemd: nginx.service: Failed",
        ),
        (
            "2026-11-16T02:15:00+0000 web1 kernel: Out of memory: Killed process 4321",
            "kernel: Out of memory: Killed process <N>",
        ),
        (
            "Sun 2026-11-16 02:15:00 UTC web1 CRON[99]: (root) CMD (true)",
            "CRON: (root) CMD (true)",
        ),
        (
            '{"__CURSOR":"s=9f86d081884c7d65;i=1a","PRIORITY":"3","SYSLOG_IDENTIFIER":"sshd",'
            '"_PID":"77","MESSAGE":"error: \\"bad\\" packet 12"}',
            "sshd: error: <STR> packet <N>",
        ),
        ("[2026-11-16 02:15:00] [ERROR] [4242#17] disk full", "disk full"),
        (f"{STAMP} ERROR db pool: timed out after 3s", "db pool: timed out after <N>s"),
        ("2026-11-16 02:15:00.123 UTC [999] ERROR:  duplicate key", "duplicate key"),
    ],
)
def test_real_formats_lose_their_prefix_and_keep_what_tells_messages_apart(
    line: str, template: str
) -> None:
    assert mask_message(line) == template


def test_path_templates_mask_ids_and_leave_out_the_query() -> None:
    assert path_template("/api/v2/orders/812/items") == "/api/v<N>/orders/<N>/items"
    assert path_template("/p/6a48e215-b407-feb4-dc7b-0428c22369ed?x=1") == "/p/<UUID>?<Q>"


@pytest.mark.parametrize("kind", list(FORMATS))
def test_generated_real_logs_never_merge_two_messages(kind: str) -> None:
    # Every nginx 5xx was one group, whatever its path and status; Apache's groups split by
    # weekday; every journald line was one group.
    lines = generate(kind, 3000)
    groups_of_template: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        groups_of_template[mask_message(line.text)].add(line.group)
    merged = {t: g for t, g in groups_of_template.items() if len(g) > 1}
    assert not merged
    # Split only where a real template cannot tell: a cache-buster hash of digits alone, a
    # user name in sshd's message.
    templates_of_group: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        templates_of_group[line.group].add(mask_message(line.text))
    split = {g for g, t in templates_of_group.items() if len(t) > 1}
    assert split <= {g for g in templates_of_group if "/static/" in g or "password" in g}


def test_the_health_checks_own_probe_is_a_group_of_its_own() -> None:
    probe = (
        '127.0.0.1 - - [16/Nov/2026:02:15:03 +0000] "GET /health HTTP/1.1" 502 157 "-"'
        ' "python-httpx/0.27.0"'
    )
    cache = TemplateCache()
    shown = cache.templates(
        [probe.encode(), ACCESS.encode(), ACCESS.replace("502", "504").encode()]
    )
    assert shown == ["GET /health 502", "GET /api/orders/<N> 502", "GET /api/orders/<N> 504"]


# ---------------------------------------------------------------- the cache

MASK_PIECES = st.sampled_from(
    [
        *("ab12cd", "9F8A7B6C", "facade1", "decade", "123456", "0x1f", "12", "1.5", "10.0.0.1"),
        *("6a48e215-b407-feb4-dc7b-0428c22369ed", "ERROR", "Abc", "g", "_", "é", "\\"),
        *(" ", ":", "-", ".", "'", '"', "=", "(", ")", "/", ",", "<", "#", "[", "]", "*", "?"),
        *("GET", "HTTP/1.1", "Nov", "502", "error", "pid", "host", "{", '"MESSAGE":"'),
        *('"SYSLOG_IDENTIFIER":"', "\t", "2026-11-16", "02:15:00", "+0000", "UTC"),
    ]
)
ACCESS_PIECES = st.sampled_from(["ab12cd", "12", "/", "?", "x", "é", "9F8A7B6C", "-", "1.5"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(MASK_PIECES, max_size=12).map("".join), max_size=20),
    st.lists(st.lists(ACCESS_PIECES, max_size=8).map("".join), max_size=10),
    st.permutations("abcdef").map("".join),
)
def test_cached_templates_are_what_masking_each_line_gives(
    lines: list[str], paths: list[str], swap: str
) -> None:
    # One cache for all lines, each also with its hex letters swapped around and turned into
    # digits: a cache key shared by two lines that mask differently fails here.
    lines = lines + [
        f'1.2.3.4 - - [16/Nov/2026:0{i}:00:00 +0000] "GET /{path} HTTP/1.1" {500 + i} 1'
        for i, path in enumerate(paths)
    ]
    letters = str.maketrans("abcdefABCDEF", swap + swap.upper())
    digits = str.maketrans("abcdefABCDEF", "123456123456")
    cache = TemplateCache()
    variants = [line.translate(letters) for line in lines] + [x.translate(digits) for x in lines]
    everything = lines + variants
    for line in everything:
        assert cache.template(line.encode("utf-8")) == mask_message(line), line
    assert TemplateCache().templates([x.encode() for x in everything]) == list(
        map(mask_message, everything)
    )
