"""Responsible for handing a message to a target: through apprise to the URL behind the target's
secret reference, or as a JSON file in a local inbox folder (written whole, by one rename). A
delivery that fails says why without the URL (it usually holds a token); it never fails a run."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from upkeep.alerts.message import Message
from upkeep.atomic import write_json
from upkeep.config.alerts import AlertTarget
from upkeep.secrets import SecretError, resolve

__all__ = ["DeliveryError", "deliver"]


class DeliveryError(Exception):
    """A message did not reach its target; the text names the target, never its URL."""


def deliver(target: AlertTarget, message: Message, at: datetime) -> None:
    if target.inbox is not None:
        _to_inbox(target, message, at)
    else:
        _through_apprise(target, message)


def _to_inbox(target: AlertTarget, message: Message, at: datetime) -> None:
    assert target.inbox is not None
    document = {"title": message.title, "body": message.body, **message.payload}
    name = f"{at:%Y%m%dT%H%M%S}-{message.payload['runbook']}-{secrets.token_hex(2)}.json"
    try:
        target.inbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(target.inbox / name, document)
    except OSError as exc:
        raise DeliveryError(
            f"{target.name}: cannot write to {target.inbox}: {exc.strerror}"
        ) from None


def _through_apprise(target: AlertTarget, message: Message) -> None:
    import apprise

    assert target.url is not None
    try:
        url = resolve(target.url)
    except SecretError as exc:
        raise DeliveryError(f"{target.name}: {exc}") from None
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError(
            f"{target.name}: {target.url} does not hold a URL apprise knows "
            "(see apprise's list of services)"
        )
    # apprise logs the URL it posts to, token and all: nothing of it may reach our output.
    quiet = logging.getLogger("apprise")
    level, quiet.level = quiet.level, logging.CRITICAL + 1
    try:
        sent = sender.notify(title=message.title, body=message.body)
    finally:
        quiet.setLevel(level)
    if not sent:
        raise DeliveryError(f"{target.name}: the service behind {target.url} did not accept it")
