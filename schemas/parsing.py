"""Bytes off the wire into a domain command, or one of two failures.

`MalformedMessage`: the body cannot be trusted to say what it is (not UTF-8, not JSON, no valid
envelope), so nobody can be answered; it belongs in the dead-letter queue for a person to look at.
`InvalidCommand`: a well-formed envelope whose `type` or `data` is wrong; the sender is known by
the envelope's `id`, so it is answered with a `command.rejected` event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.commands import COMMAND_MODELS
from schemas.envelope import Envelope
from workflows.commands import Command
from workflows.errors import ValidationFailed

MAX_BODY_BYTES = 1024 * 1024
_MAX_LISTED_ERRORS = 5
_MAX_SEGMENT_CHARS = 100

# Escapes that can smuggle text no database column accepts: NUL and (lone) UTF-16 surrogates.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "too_long": "must have at most {max_length} items",
    "string_too_long": "must have at most {max_length} characters",
    "string_too_short": "must not be empty",
}


class MalformedMessage(Exception):
    """A body that is not a readable CloudEvents command envelope."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidCommand(ValidationFailed):
    """A readable envelope whose command cannot be accepted: unknown `type` or bad `data`."""

    def __init__(self, envelope: Envelope, message: str, *, field: str | None, code: str) -> None:
        super().__init__(message, field=field, code=code)
        self.envelope = envelope

    @property
    def command_id(self) -> str:
        return self.envelope.id

    @property
    def command_type(self) -> str:
        return self.envelope.type

    @property
    def order_id(self) -> str | None:
        """The `data.order_id` if it is a usable id, for the `command.rejected` event."""
        order_id = self.envelope.data.get("order_id")
        if isinstance(order_id, str) and 0 < len(order_id) <= 100:
            return order_id
        return None


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    envelope: Envelope
    command_type: str
    command: Command


def parse_command(body: bytes) -> ParsedCommand:
    """Read one command message body (a CloudEvents JSON envelope)."""
    raw = _load_object(body)
    data = raw.get("data")
    envelope = _load_envelope({**raw, "data": data if isinstance(data, dict) else {}})
    model = COMMAND_MODELS.get(envelope.type)
    if model is None:
        known = ", ".join(sorted(COMMAND_MODELS))
        message = f"type: unknown command type {_clip(envelope.type)!r}; known types: {known}"
        raise InvalidCommand(envelope, message, field="type", code="command.unknown_type")
    if not isinstance(data, dict):
        message = "data: is required and must be a JSON object"
        raise InvalidCommand(envelope, message, field="data", code="command.invalid")
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        field, message = describe_errors(exc.errors(include_url=False, include_input=False))
        raise InvalidCommand(envelope, message, field=field, code="command.invalid") from None
    return ParsedCommand(envelope, envelope.type, validated.to_domain())


def describe_errors(errors: Sequence[ErrorDetails]) -> tuple[str | None, str]:
    """The first error's dotted path (None for the object as a whole) and a readable message
    listing the first few errors, e.g. "lines.0.quantity: must be a decimal string, ..."."""
    lines = [_describe(error) for error in errors[:_MAX_LISTED_ERRORS]]
    if len(errors) > _MAX_LISTED_ERRORS:
        lines.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more errors")
    first_path = _path(errors[0]["loc"]) if errors else ""
    return first_path or None, "; ".join(lines)


def _describe(error: ErrorDetails) -> str:
    template = _MESSAGES.get(error["type"])
    text = template.format(**error.get("ctx", {})) if template else error["msg"]
    path = _path(error["loc"])
    return f"{path}: {text}" if path else text


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(_clip(str(part)) for part in loc)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_SEGMENT_CHARS else text[:_MAX_SEGMENT_CHARS] + "…"


def _load_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise MalformedMessage("body too large")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates)
    except RecursionError:
        raise MalformedMessage("body is not JSON: nested too deeply") from None
    except ValueError as exc:
        raise MalformedMessage(f"body is not JSON: {_clip(str(exc))}") from None
    if not isinstance(value, dict):
        raise MalformedMessage(f"body is JSON but not an object: {type(value).__name__}")
    if _RISKY_ESCAPE.search(text):
        _reject_unstorable_text(value)
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may keep different copies of a repeated key; refuse the ambiguity.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {_clip(key)!r}")
            seen.add(key)
    return result


def _reject_unstorable_text(value: object) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise MalformedMessage("body contains a NUL character (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedMessage("body contains a lone UTF-16 surrogate escape") from None


def _load_envelope(raw: dict[str, Any]) -> Envelope:
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        _, message = describe_errors(exc.errors(include_url=False, include_input=False))
        raise MalformedMessage(f"invalid envelope: {message}") from None
