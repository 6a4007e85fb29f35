"""docs/asyncapi.yaml: current, complete, self-consistent, and its examples are true."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas import asyncapi
from schemas.events import validate_event
from schemas.parsing import parse_command
from workflows.commands import COMMAND_TYPES
from workflows.events import EVENT_TYPES

DOCUMENT: dict[str, Any] = yaml.safe_load(asyncapi.render())


def test_the_committed_document_is_current() -> None:
    committed = asyncapi.DOC_PATH.read_text(encoding="utf-8")
    assert committed == asyncapi.render(), "run: python -m schemas.asyncapi"


def test_render_is_deterministic() -> None:
    assert asyncapi.render() == asyncapi.render()


def test_check_mode_reports_a_stale_file_and_writing_fixes_it(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "asyncapi.yaml"
    assert asyncapi.main(["--check", "--output", str(target)]) == 1
    assert asyncapi.main(["--output", str(target)]) == 0
    assert asyncapi.main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert asyncapi.main(["--check", "--output", str(target)]) == 1


def test_it_is_an_asyncapi_3_document_over_the_two_exchanges() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    channels = DOCUMENT["channels"]
    assert channels["commands"]["address"] == "prepay.commands"
    assert channels["events"]["address"] == "prepay.events"
    for channel in channels.values():
        assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"


def test_every_command_is_received_and_every_event_sent() -> None:
    operations = DOCUMENT["operations"]
    for name in COMMAND_TYPES.values():
        operation = operations[f"receive-{name}"]
        assert operation["action"] == "receive"
        assert operation["bindings"]["amqp"]["cc"] == [name]
        assert name in DOCUMENT["channels"]["commands"]["messages"]
    for name in EVENT_TYPES:
        operation = operations[f"send-{name}"]
        assert operation["action"] == "send"
        assert operation["bindings"]["amqp"]["cc"] == [name]
        assert name in DOCUMENT["channels"]["events"]["messages"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


@pytest.mark.parametrize("ref", sorted(set(_refs(DOCUMENT))))
def test_every_reference_resolves(ref: str) -> None:
    assert ref.startswith("#/")
    node: Any = DOCUMENT
    for part in ref[2:].split("/"):
        node = node[part]
    assert isinstance(node, dict)


@pytest.mark.parametrize("name", sorted(COMMAND_TYPES.values()))
def test_command_examples_in_the_document_parse(name: str) -> None:
    [example] = DOCUMENT["components"]["messages"][name]["examples"]
    parsed = parse_command(json.dumps(example["payload"]).encode())
    assert parsed.command_type == name


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_event_examples_in_the_document_validate(name: str) -> None:
    [example] = DOCUMENT["components"]["messages"][name]["examples"]
    payload = example["payload"]
    assert payload["type"] == name
    validate_event(name, payload["data"])


def test_decimals_are_documented_as_strings() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    quantity = schemas["LineInputData"]["properties"]["quantity"]
    assert quantity["type"] == "string"
    assert quantity["pattern"] == r"^-?[0-9]{1,15}(\.[0-9]{1,5})?$"
    assert schemas["InvoicePosted"]["properties"]["amount_due"]["type"] == "string"
