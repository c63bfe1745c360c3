"""Tests for upkeep.masking: each kind of secret and personal data is masked with a marker that
names it, what is neither stays as it was, and nothing goes online."""

from __future__ import annotations

import socket

import pytest

from upkeep.masking import LARGE_TEXT, luhn_valid, marker, mask_credentials, mask_sensitive

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
RSA_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I"
    "\\n2yPB6YFQ8XMdTe1YfkbBtLnJ9VwZ3LtqjxDSR0g\\n-----END RSA PRIVATE KEY-----"
)

# (what is masked, a line holding it, the value that must be gone)
KINDS = [
    ("bearer-token", f"Authorization: Bearer {JWT}", JWT),
    ("bearer-token", "curl -H 'authorization: bearer abc.DEF-123_~+/=' api", "abc.DEF-123"),
    ("basic-auth-credentials", "Authorization: Basic Ym9iOmh1bnRlcjI=", "Ym9iOmh1bnRlcjI"),
    ("password", "login failed password=hunter2 for bob", "hunter2"),
    ("password", '{"db_password": "correct horse", "user": "bob"}', "correct horse"),
    ("secret", "client_secret: s3cr3t-v4lue rotated", "s3cr3t-v4lue"),
    ("secret", "api_key='k-9f8e7d6c5b4a' refused", "k-9f8e7d6c5b4a"),
    ("token", "GET /callback?access_token=ya-tok3n&state=1 200", "ya-tok3n"),
    ("token", "refresh token=Zm9vYmFy expired", "Zm9vYmFy"),
    ("private-key", f"loaded key {RSA_KEY} from env", "MIIEowIBAAKCAQEA0Z3VS5JJ"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA", "b3BlbnNz"),
    ("aws-access-key", "using AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    (
        "secret",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
    ),
    (
        "azure-storage-account-access-key",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "A1b2" * 22 + ";x",
        "A1b2A1b2",
    ),
    ("google-api-key", "maps key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe ok", "AIzaSyDaGmWK"),
    ("github-token", "push with ghp_" + "a1B2" * 9 + " failed", "a1B2a1B2"),
    ("json-web-token", f"session {JWT} expired", JWT[:40]),
    (
        "basic-auth-credentials",
        "connect postgres://app:pa55w0rd@db.internal:5432/app",
        "pa55w0rd",
    ),
    ("email", "mail to bob.jones+ops@mail.example.co.uk bounced", "bob.jones"),
    ("card", "charge card=4111111111111111 declined", "4111111111111111"),
    ("card", "card 5500 0000 0000 0004 declined", "5500 0000 0000 0004"),
    ("card", "amex 3782-822463-10005 ok", "3782-822463-10005"),
    # found reaching the evidence from log lines the health check quoted
    ("secret", "proxy sent X-Api-Key: HeaderKey12value upstream", "HeaderKey12value"),
    ("password", "backup ran mysql -u root -pMysqlPass13 app", "MysqlPass13"),
    ("password", "cron: /usr/bin/mysqldump -u root -pPathPass14 shop", "PathPass14"),
    ("password", "cmd=mysql -pEqualsPass15 -e 'select 1'", "EqualsPass15"),
    ("password", "login rejected: password 'SpacePass14' is wrong", "SpacePass14"),
    ("cookie", "request cookie: session=SessCookie16value; theme=dark", "SessCookie16value"),
    ("cookie", "Set-Cookie: sid=4f9c2e1a77; Path=/; HttpOnly", "4f9c2e1a77"),
    ("telegram-bot-token", "bot 123456789:AAH" + "x1Y2" * 8 + " started", "x1Y2x1Y2"),
    ("slack-token", "notify with xoxb-1234-5678-abcdefghij ok", "abcdefghij"),
    ("stripe-access-key", "charge via sk_live_" + "a1B2" * 6 + " done", "a1B2a1B2"),
    ("twilio-api-key", "sms via AC" + "a1b2" * 8 + " sent", "a1b2a1b2"),
    (
        "discord-bot-token",
        "bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs ready",
        "ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    ),
]
CREDENTIALS = [kind for kind in KINDS if kind[0] not in ("email", "card")]


@pytest.mark.parametrize(("kind", "line", "value"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_is_masked_with_a_marker_naming_it(kind: str, line: str, value: str) -> None:
    masked = mask_sensitive(line)
    assert value not in masked
    assert marker(kind) in masked, masked


def test_the_line_from_the_issue_keeps_its_words_and_loses_its_secrets() -> None:
    line = f"ERROR payment failed card=4111111111111111 Authorization: Bearer {JWT}"
    assert mask_sensitive(line) == (
        "ERROR payment failed card=«card» Authorization: Bearer «bearer-token»"
    )


NOT_SECRETS = [
    "2026-11-16 02:15:00,123 ERROR [web] timeout after 31s for id 812",
    "card 4111111111111112 is not a card: the Luhn check fails",
    "took 1732000000000 ms since the epoch, request 12345678901234",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 verified",
    "sha256 9f86d0818a4111111111111111b822cd15d6c15b0f00a08 and id c_4111111111111111x",
    "request 6a48e215-b407-feb4-dc7b-0428c22369ed from 10.0.3.17:443 to 2001:db8::1",
    "tokenizer: loaded 12 rules; passwords are checked; basic authentication failed",
    "secret parameter «secret:env:DB_PASSWORD» resolved",
    "GET /api/orders/812?page=2 200 in 31ms",
    "std::vector<int> at 02:15:00",
    "mysql -u root -p app asks for the password",
    "the password reset link was sent; the token expired",
    # not MySQL's -p: another command's option after a path or a name holding "mysql"
    "find /var/lib/mysql -perm -0002 -print",
    "restarted mysql; tar -pczf backup.tgz data",
    "chown -R mysql:mysql /var/lib/mysql -printf '%p'",
    # a cookie setting, not a cookie header; a kubectl line naming a secret
    "Checking cookie: disabled for this site",
    'secret "db-backup" created',
]


@pytest.mark.parametrize("line", NOT_SECRETS)
def test_text_without_secrets_or_personal_data_is_left_as_it_is(line: str) -> None:
    assert mask_sensitive(line) == line


def test_ip_addresses_are_masked_only_when_asked() -> None:
    line = "refused from 10.0.3.17:443 and [2001:db8::1]:80 at 02:15:00,123, version 1.2.3.4.5"
    assert mask_sensitive(line) == line
    assert mask_sensitive(line, ip_addresses=True) == (
        "refused from «ip»:443 and [«ip»]:80 at 02:15:00,123, version 1.2.3.4.5"
    )
    assert mask_sensitive("not an address 999.1.2.3", ip_addresses=True).endswith("999.1.2.3")


def test_cards_can_be_left_to_the_caller() -> None:
    assert mask_sensitive("card 4111111111111111", cards=False) == "card 4111111111111111"


@pytest.mark.parametrize("line", [k[1] for k in KINDS] + NOT_SECRETS)
def test_masking_twice_changes_nothing_more(line: str) -> None:
    once = mask_sensitive(line, ip_addresses=True)
    assert mask_sensitive(once, ip_addresses=True) == once


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_masking_never_goes_online(monkeypatch: pytest.MonkeyPatch) -> None:
    # detect-secrets can verify secrets against their services; masking must never do so.
    # (The one stand-in of this file: a network that refuses, since none may be reached.)
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("masking tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for _, line, value in KINDS:
        assert value not in mask_sensitive(line)


@pytest.mark.parametrize(("kind", "line", "value"), CREDENTIALS, ids=[k[0] for k in CREDENTIALS])
def test_credentials_are_masked_in_a_large_text_too(kind: str, line: str, value: str) -> None:
    # Megabytes a run printed are masked only on the lines that may hold a credential: each
    # kind must still be found among lines that hold none.
    filler = "2026-12-08 01:02:03 INFO worker=7 processed job 123456 in 0.25s path=/srv/app\n"
    before = filler * (LARGE_TEXT // len(filler))
    text = f"{before}{line}\n{filler * 10}"
    assert len(text) > LARGE_TEXT
    masked = mask_credentials(text)
    assert value not in masked
    assert marker(kind) in masked
    assert masked.startswith(before)
    if kind != "private-key":  # a key block with no END line is masked to the end of the text
        assert masked.endswith(f"\n{filler * 10}")


def test_credentials_alone_leave_personal_data_to_the_caller() -> None:
    line = "mail bob@example.com, card 4111111111111111, password=hunter2"
    masked = "mail bob@example.com, card 4111111111111111, password=«password»"
    assert mask_credentials(line) == masked
