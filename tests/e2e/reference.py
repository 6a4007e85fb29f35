"""The reference a running service is held to: the in-memory domain applying the same commands
one after the other, as a single clean worker would; and the helpers to compare with it."""

from __future__ import annotations

import json
import random
import re
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from schemas.parsing import parse_command
from workers.event_json import encode_wire
from workers.order_report import as_json, build_report
from workers.publishing import command_envelope
from workflows.bus import Outcome, process
from workflows.memory import InMemoryUnitOfWork

# (command type, data, command id)
Step = tuple[str, dict[str, Any], str]

_DOCUMENT_NO = re.compile(r"\b(PPI|PPCM|INV|PPPI|PPPCM|PINV)-\d{6}\b")


class Model:
    """The in-memory domain applying commands serially; `events` per order as the wire
    carries them."""

    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWork()
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.event_count = 0

    def apply(
        self, command_type: str, data: dict[str, Any], command_id: str, *, may_refuse: bool = False
    ) -> Outcome:
        envelope = command_envelope(command_type, data, command_id=command_id)
        parsed = parse_command(json.dumps(envelope).encode())
        outcome = process(command_id, parsed.command, self.uow)
        assert may_refuse or not outcome.rejected, outcome.error
        for event in outcome.events:
            wire = {"type": event.type, "data": json.loads(encode_wire(event.data))}
            self.events.setdefault(event.subject or "", []).append(wire)
        self.event_count += len(outcome.events)
        return outcome

    def report(self, order_id: str) -> dict[str, Any]:
        store = self.uow.store
        payments = [p for p in store.payments if p.order_id == order_id]
        report = build_report(store.orders[order_id], store.documents[order_id], payments, [])
        return dict(json.loads(as_json(report)))


def without_document_numbers(value: Any) -> Any:
    """Document numbers depend on which order got to the series first; within one order
    they are named by first appearance instead (in messages too)."""
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"document-{len(names) + 1}")

    def rename(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: rename(x) for key, x in item.items()}
        if isinstance(item, list):
            return [rename(x) for x in item]
        if isinstance(item, str):
            return _DOCUMENT_NO.sub(name, item)
        return item

    return rename(value)


def interleaved(plans: Sequence[Sequence[Step]], seed: int) -> list[Step]:
    """All steps, orders interleaved at random, each order's own in sequence."""
    pending = [deque(plan) for plan in plans if plan]
    rng = random.Random(seed)
    steps = []
    while pending:
        queue = rng.choice(pending)
        steps.append(queue.popleft())
        if not queue:
            pending.remove(queue)
    return steps


def publish_interleaved(
    send: Callable[..., str], plans: Sequence[Sequence[Step]], seed: int
) -> None:
    for command_type, data, command_id in interleaved(plans, seed):
        send(command_type, data, command_id=command_id)


def compare_reports(stored: dict[str, Any] | None, model: Model, order_id: str) -> None:
    """The order, its documents and payments as the database holds them are the model's."""
    assert stored is not None, f"{order_id} was not stored"
    stored = dict(stored)
    del stored["history"]
    expected = model.report(order_id)
    del expected["history"]
    assert without_document_numbers(stored) == without_document_numbers(expected), order_id


def worker_pids(service_pid: int) -> set[int]:
    """The worker processes `prepay serve --workers N` spawned (Linux /proc)."""
    children = Path(f"/proc/{service_pid}/task/{service_pid}/children")
    if not children.exists():
        pytest.skip("needs Linux /proc to find the worker processes")
    found = set()
    for child in map(int, children.read_text().split()):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            found.add(child)
    return found
