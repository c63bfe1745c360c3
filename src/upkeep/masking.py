"""Responsible for masking secrets and personal data in text that becomes evidence: log excerpts,
finding and check messages. `mask_sensitive` replaces each value it recognises with a marker
naming what was there (`«card»`, `«bearer-token»`, `«aws-access-key»`): the format-specific
detectors of detect-secrets (cloud and service keys, tokens, private keys, credentials in URLs),
then `Authorization` credentials, `password=`/`secret=`/`token=` values, e-mail addresses,
Luhn-valid card numbers and, when asked, IP addresses. It runs inside kernels: detect-secrets'
detectors are imported here, once, and none of them ever goes online.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import DENYLIST as SECRET_KEYWORDS
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

__all__ = ["luhn_valid", "marker", "mask_credentials", "mask_sensitive"]

# detect-secrets' detectors of one format each. Left out: the entropy detectors (every hash and
# id in a log would go) and the keyword-based ones, which `_NAMED_VALUE` covers for log text.
_FORMAT_DETECTORS: tuple[type[RegexBasedDetector], ...] = (
    AWSKeyDetector,
    AzureStorageKeyDetector,
    ArtifactoryDetector,
    BasicAuthDetector,
    DiscordBotTokenDetector,
    GitHubTokenDetector,
    GitLabTokenDetector,
    JwtTokenDetector,
    MailchimpDetector,
    NpmDetector,
    OpenAIDetector,
    PypiTokenDetector,
    SendGridDetector,
    SlackDetector,
    SquareOAuthDetector,
    StripeDetector,
    TelegramBotTokenDetector,
    TwilioKeyDetector,
)
# What a detector's match may run on into: its patterns stop at a group (GitHub's `ghp`) or
# end lazily (a JWT's signature).
_TOKEN_REST = re.compile(r"[A-Za-z0-9_\-.+/~]*=*")
_EDGE_NOISE = " \t\"'=:"


def marker(kind: str) -> str:
    """What stands in for a masked value: its kind between guillemets, `«card»`."""
    return f"«{kind}»"


def _kind_of(detector: type[RegexBasedDetector]) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(detector.secret_type).lower()).strip("-")


_DETECTORS = tuple((detector(), marker(_kind_of(detector))) for detector in _FORMAT_DETECTORS)

# Past this many characters a text is masked only on the lines that hold a trigger: a word or
# prefix every credential form `mask_credentials` knows holds (lower case: any case matches).
LARGE_TEXT = 256 * 1024
_LOWER_TRIGGERS = (
    *("bearer", "basic", "cookie", "mysql", "aws", "auth", "token", "credential"),
    *("key", "pass", "pwd", "secret", "contras", "priv"),  # the stems of SECRET_KEYWORDS
)
_TRIGGERS = (
    *("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "AccountKey", "AKC", "AP", "://", "@"),
    *("gh", "gl", "GR1348941", "eyJ", "-us", "_authToken", "sk-", "sk_", "rk_", "pypi-"),
    *("SG.", "xox", "hooks.slack.com", "sq0", "AC", "SK", "AIza", "ya29."),
)
_TRIGGER_PATTERNS = (  # forms without a fixed part: Telegram's and Discord's bot tokens
    re.compile(r"\d{8,10}:"),
    re.compile(r"[MNO][\w-]{23,25}\."),
)
# A PEM block from its BEGIN line to its END line, or to the end of the text when it was cut.
_PRIVATE_KEY_BLOCK = re.compile(
    r"(?:-----)?(?P<begin>"
    + "|".join(f"(?:{pattern.pattern})" for pattern in PrivateKeyDetector.denylist)
    + r")(?:-----)?.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_BEARER = re.compile(r"(?i)(?<![\w-])(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
_BASIC = re.compile(r"(?i)(?<![\w-])(basic\s+)([A-Za-z0-9+/]{4,}={0,2})(?![\w+/=])")
_GOOGLE = (
    (re.compile(r"(?<![\w-])AIza[0-9A-Za-z_\-]{35}"), marker("google-api-key")),
    (re.compile(r"(?<![\w-])ya29\.[0-9A-Za-z_\-]{20,}"), marker("google-oauth-token")),
)
# `password=…`, `"client_secret": "…"`, `?access_token=…&`: a name, then `=` or `:`, then the
# value (quoted, or up to the next delimiter); masked when the name ends in a secret word.
_NAMED_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.\-«])(?P<name>[A-Za-z0-9_.\-]+)(?P<assign>[\"']?\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"?|'[^']*'?|(?!«)[^\s,;&\"'<>()\[\]{}]+)"
)
_SECRET_NAME_END = re.compile(
    "(?i)(?:"
    # A header's name joins its words with `-` (`X-Api-Key`), a variable's with `_`.
    + "|".join(
        keyword.replace("_?", "[_-]?")
        for keyword in (*SECRET_KEYWORDS, "secret_?key", "access_?key", "token", "credentials?")
    )
    + r")\Z"
)
# A cookie header's whole value (session ids, several `name=value` pairs), on its own line.
_COOKIE = re.compile(r"(?i)(?<![\w-])((?:set-)?cookie[ \t]*:[ \t]*)(?=[^\r\n=]{0,200}=)[^\r\n]+")
# `mysql -u root -pSECRET`: MySQL's clients take the password glued to `-p`, among the command's
# own arguments (a few words after it, within one command: not `find /var/lib/mysql -perm`).
_MYSQL_PASSWORD = re.compile(
    r"(?<![\w.-])(mysql(?:dump|admin|import|check|show|binlog)?(?:\.exe)?"
    r"(?:[ \t]+(?!-p)[^\s|;&<>]+){0,12}?[ \t]+-p)"
    # not find's -perm, -print, -printf, -prune, -path after a path ending in mysql
    r"(?!(?:erm|rint|rune|ath)\w*(?:\s|$))"
    r"(?:'[^'\r\n]*'|\"[^\"\r\n]*\"|[^\s'\"]+)"
)
# `password 'hunter2'`: a password word, a space, then a quoted value.
_QUOTED_AFTER_WORD = re.compile(
    r"(?i)(?<![\w-])((?:password|passwd|passphrase|pwd)[ \t]+)(['\"])[^'\"\r\n]{1,200}\2"
)
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![\w\-])"
)
# Card numbers start with 2 to 6 (the payment industries; a millisecond timestamp starts with
# 1), alone: not a digit run inside a hash or an id.
_CARD_CANDIDATE = re.compile(r"(?<![A-Za-z0-9\-])[2-6](?:[ \-]?\d){12,18}(?![A-Za-z0-9])")
_IPV4_CANDIDATE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]{2,}(?![\w:])"
)


def mask_sensitive(text: str, *, ip_addresses: bool = False, cards: bool = True) -> str:
    """`text` with every secret and personal value recognised replaced by its marker.

    `ip_addresses` masks IPv4 and IPv6 addresses too; `cards=False` leaves digit runs alone
    (for text whose digits are masked anyway, where a Luhn check would make the result depend
    on the digits).
    """
    text = _EMAIL.sub(marker("email"), mask_credentials(text))
    if cards:
        text = _CARD_CANDIDATE.sub(_card, text)
    if ip_addresses:
        text = _IPV4_CANDIDATE.sub(_ip_address, text)
        text = _IPV6_CANDIDATE.sub(_ip_address, text)
    return text


def mask_credentials(text: str) -> str:
    """`text` with every credential recognised (keys, tokens, passwords, credentials in URLs,
    private keys) replaced by its marker; personal data (e-mail addresses, card numbers) is
    left as it is. For what a run printed or raised: its output is the runbook's to shape, its
    credentials never the evidence's.

    A text past `LARGE_TEXT` (megabytes a run printed) is masked line by line, and only on the
    lines that hold something every credential form starts with or contains (`_TRIGGERS`): the
    same result, at the speed of a substring search over lines that hold none (the patterns
    cost about 0.7 s a megabyte)."""
    if "PRIVATE KEY" in text or "PuTTY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(marker("private-key"), text)
    if len(text) <= LARGE_TEXT:
        return _mask_line_credentials(text)
    parts, at = [], 0
    for start, end in _candidate_lines(text):
        parts += [text[at:start], _mask_line_credentials(text[start:end])]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _mask_line_credentials(text: str) -> str:
    """The credentials of `mask_credentials` but private keys (which span lines)."""
    text = _BEARER.sub(lambda m: m[1] + marker("bearer-token"), text)
    text = _BASIC.sub(_basic_credentials, text)
    text = _replace_spans(text, _detector_spans(text))
    for pattern, replacement in _GOOGLE:
        text = pattern.sub(replacement, text)
    text = _NAMED_VALUE.sub(_named_value, text)
    text = _COOKIE.sub(lambda m: m[1] + marker("cookie"), text)
    text = _MYSQL_PASSWORD.sub(lambda m: m[1] + marker("password"), text)
    return _QUOTED_AFTER_WORD.sub(_quoted_after_word, text)


def _candidate_lines(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each line of `text` that holds a trigger, in order."""
    starts: set[int] = set()
    lowered = text.lower()
    for haystack, needles in ((lowered, _LOWER_TRIGGERS), (text, _TRIGGERS)):
        for needle in needles:
            at = haystack.find(needle)
            while at != -1:
                start = text.rfind("\n", 0, at) + 1
                starts.add(start)
                end = text.find("\n", at)
                if end == -1:
                    break
                at = haystack.find(needle, end)  # the rest of this line is taken already
    for pattern in _TRIGGER_PATTERNS:
        for match in pattern.finditer(text):
            starts.add(text.rfind("\n", 0, match.start()) + 1)
    spans = []
    for start in sorted(starts):
        end = text.find("\n", start)
        spans.append((start, len(text) if end == -1 else end))
    return spans


def _detector_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Where detect-secrets' detectors find a value: its span, extended over the rest of the
    token it starts, and the marker of its kind."""
    for detector, replacement in _DETECTORS:
        for pattern in detector.denylist:
            for match in pattern.finditer(text):
                group = 1 if pattern.groups and match.group(1) else 0
                start, end = match.span(group)
                while start < end and text[start] in _EDGE_NOISE:
                    start += 1
                while end > start and text[end - 1] in _EDGE_NOISE:
                    end -= 1
                if start == end:
                    continue
                if isinstance(detector, JwtTokenDetector) and not detector.is_formally_valid(
                    text[start:end]
                ):
                    continue
                rest = _TOKEN_REST.match(text, end)
                yield start, rest.end() if rest else end, replacement


def _replace_spans(text: str, spans: Iterator[tuple[int, int, str]]) -> str:
    """`text` with the spans replaced, overlapping ones merged under the first one's marker."""
    ordered = sorted(spans)
    if not ordered:
        return text
    parts, at = [], 0
    for start, end, replacement in ordered:
        if start < at:  # inside a span already replaced
            if end > at:
                at = end
            continue
        parts += [text[at:start], replacement]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _basic_credentials(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return match[1] + marker("basic-auth-credentials") if b":" in decoded else match[0]


def _named_value(match: re.Match[str]) -> str:
    secret_word = _SECRET_NAME_END.search(match["name"])
    if secret_word is None:
        return match[0]
    word = secret_word[0].lower()
    kind = (
        "token"
        if word == "token"
        else "password"
        if any(part in word for part in ("pass", "pwd", "contras"))
        else "secret"
    )
    return match["name"] + match["assign"] + marker(kind)


def _quoted_after_word(match: re.Match[str]) -> str:
    return f"{match[1]}{match[2]}{marker('password')}{match[2]}"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check that every card number passes."""
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ \-]", "", match[0])
    return marker("card") if 13 <= len(digits) <= 19 and luhn_valid(digits) else match[0]


def _ip_address(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match[0])
    except ValueError:
        return match[0]
    return marker("ip")
