"""The AsyncAPI 3.0 document of the contract, generated from the pydantic models.

    python -m schemas.asyncapi           # (re)writes docs/asyncapi.yaml
    python -m schemas.asyncapi --check   # exits 1 when docs/asyncapi.yaml is out of date

Generated rather than written by hand, so the document cannot drift from the code; a unit test
compares the committed file with `render()`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from schemas.commands import COMMAND_MODELS
from schemas.encoding import to_envelope
from schemas.envelope import Envelope
from schemas.events import EVENT_MODELS
from schemas.examples import command_examples, event_examples

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml"
CONTENT_TYPE = "application/cloudevents+json"
_REF = "#/components/schemas/{model}"
_AMQP = {"bindingVersion": "0.3.0"}
_EXAMPLE_TIME = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
_COMMAND_ID = "6f1c2b9e-8d4a-4f3b-9c1e-7a5d3e2f1b80"

_DESCRIPTION = """\
Prepayment invoicing for sales and purchase orders. Upstream systems publish commands to the
topic exchange `prepay.commands` (routing key = command type); prepay publishes what happened to
the topic exchange `prepay.events` (routing key = event type).

Every body is a CloudEvents 1.0 JSON envelope (structured mode). A command's `id` is its
idempotency key: re-sent with the same `id`, it takes effect once. Events copy the command's `id`
into `correlationid`. `subject` is the ordering key (the order id, or the party or item id of a
setup command). Amounts and quantities are decimal strings ("1000.80"), never JSON floats; dates
are ISO 8601 ("2026-11-27").

A command with a readable envelope but an unknown `type` or invalid `data` is answered with a
`command.rejected` event; a body that is not a readable envelope goes to the dead-letter queue.
"""


def build() -> dict[str, Any]:
    """The whole AsyncAPI document as plain data, keys in a fixed order."""
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Envelope, "validation")]
    inputs += [(model, "validation") for model in COMMAND_MODELS.values()]
    inputs += [(model, "serialization") for model in EVENT_MODELS.values()]
    refs, definitions = models_json_schema(inputs, ref_template=_REF)
    commands = {
        name: _message(name, model, refs[(model, "validation")], _command_example(name))
        for name, model in COMMAND_MODELS.items()
    }
    events = {
        name: _message(name, model, refs[(model, "serialization")], _event_example(name))
        for name, model in EVENT_MODELS.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "prepay", "version": "1.0.0", "description": _DESCRIPTION},
        "defaultContentType": CONTENT_TYPE,
        "channels": {
            "commands": _channel("prepay.commands", "Commands to prepay", commands),
            "events": _channel("prepay.events", "Events from prepay", events),
        },
        "operations": {
            **{f"receive-{name}": _operation("receive", "commands", name) for name in commands},
            **{f"send-{name}": _operation("send", "events", name) for name in events},
        },
        "components": {"messages": {**commands, **events}, "schemas": definitions["$defs"]},
    }


def _channel(exchange: str, title: str, messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": exchange,
        "title": title,
        "description": f"Topic exchange `{exchange}`; the routing key is the message type.",
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {"name": exchange, "type": "topic", "durable": True, "vhost": "/"},
                **_AMQP,
            }
        },
    }


def _operation(action: str, channel: str, name: str) -> dict[str, Any]:
    amqp: dict[str, Any] = {"cc": [name]}
    if action == "receive":
        amqp["ack"] = True
    else:
        amqp.update(deliveryMode=2, mandatory=True)
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        "bindings": {"amqp": {**amqp, **_AMQP}},
    }


def _message(
    name: str, model: type[BaseModel], data_ref: dict[str, Any], example: dict[str, Any]
) -> dict[str, Any]:
    summary = (model.__doc__ or name).strip().splitlines()[0]
    correlation: dict[str, Any] = {}
    if name in EVENT_MODELS:  # only events name the command that caused them
        correlation["correlationId"] = {"location": "$message.payload#/correlationid"}
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        **correlation,
        "payload": {
            "allOf": [
                {"$ref": _REF.format(model="Envelope")},
                {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"type": {"const": name}, "data": data_ref},
                },
            ]
        },
        "bindings": {"amqp": {"messageType": name, **_AMQP}},
        "examples": [{"name": name, "payload": example}],
    }


def _command_example(name: str) -> dict[str, Any]:
    subject, data = command_examples()[name]
    return {
        "specversion": "1.0",
        "id": _COMMAND_ID,
        "source": "erp/orders",
        "type": name,
        "time": "2026-11-27T10:00:00Z",
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def _event_example(name: str) -> dict[str, Any]:
    event = event_examples()[name]
    event_id = f"{_COMMAND_ID}:{name}"
    return to_envelope(event, event_id=event_id, correlation_id=_COMMAND_ID, time=_EXAMPLE_TIME)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # repeated schema fragments are written out, never as &id001 anchors


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def render() -> str:
    """The document as YAML, byte for byte what `docs/asyncapi.yaml` should hold."""
    header = "# Generated by `python -m schemas.asyncapi` from the pydantic models: do not edit.\n"
    body = yaml.dump(build(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOC_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run python -m schemas.asyncapi", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
