"""The kit's errors: one base class, a branch for each kind of mistake.

Every error the kit raises on purpose is a :class:`LabError`. Errors about a
value that breaks an SQS rule are :class:`LimitError` and carry the rule, the
limit and the value given, so a student reads what to change, and a test can
check the fields instead of matching text. They are raised before anything is
sent to a queue.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AwsOptInRequired",
    "BackendError",
    "ConfigError",
    "InvalidMessageContents",
    "InvalidParameter",
    "InvalidQueueName",
    "LabError",
    "LimitError",
    "MessageCapExceeded",
    "MessageTooLarge",
    "MissingCredentials",
    "MissingRegion",
    "UnknownBackend",
]


class LabError(Exception):
    """Base class of every error the kit raises on purpose."""


class ConfigError(LabError):
    """The kit was set up wrongly: a backend, a region, credentials, an opt-in."""


class UnknownBackend(ConfigError):
    """``connect`` was given a backend name the kit does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"Unknown backend {name!r}: the backend must be one of {', '.join(known)}."
        )


class AwsOptInRequired(ConfigError):
    """The ``aws`` backend was asked for without the explicit opt-in."""


class MissingRegion(ConfigError):
    """The ``aws`` backend needs a region and none was given."""


class MissingCredentials(ConfigError):
    """The ``aws`` backend found no credentials."""


class BackendError(LabError):
    """A backend could not be started or reached."""


class MessageCapExceeded(LabError):
    """A run on real AWS would send more messages than its cap allows."""

    def __init__(self, cap: int, already: int, wanted: int) -> None:
        self.cap = cap
        self.already = already
        self.wanted = wanted
        super().__init__(
            f"Message cap reached: this connection may send at most {cap} "
            f"messages to real AWS and has sent {already}; sending {wanted} more "
            f"would pass it. Raise max_messages in connect() if you mean it."
        )


class LimitError(LabError, ValueError):
    """A value breaks one of the service's rules.

    Attributes:
        rule: what the rule is about, in a few words ("batch size").
        limit: the allowed range or pattern, as text ("1 to 10").
        value: the value that was given.
    """

    def __init__(
        self, rule: str, limit: str, value: Any, hint: str = "", unit: str = ""
    ) -> None:
        self.rule = rule
        self.limit = limit
        self.value = value
        self.hint = hint
        self.unit = unit
        shown = f"{value:,} {unit}" if unit else _show(value)
        text = f"Invalid {rule}: must be {limit}; got {shown}."
        if hint:
            text += f" {hint}"
        super().__init__(text)


class InvalidParameter(LimitError):
    """A request parameter (batch size, wait time, timeout, count) is out of range."""


class InvalidQueueName(LimitError):
    """A queue name the service would reject."""


class MessageTooLarge(LimitError):
    """A message body (with its attributes) is larger than the queue allows."""


class InvalidMessageContents(LimitError):
    """A message body holds characters SQS does not accept."""


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text
