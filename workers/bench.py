"""`prepay bench`: end-to-end throughput against the configured broker and database.

It starts the service (`prepay serve --workers K`) as a child process, publishes N commands as
whole order life cycles (create a 2-line order, prepayment invoice, payment, final invoice),
and measures from the first publish until the last command's first event arrived downstream.
Latency is per command: publish to the first event carrying its id as correlation id. With
`split`, it is also cut at the time the event was recorded (its envelope's `time`, taken in
the worker while the batch is processed, before the commit): before it, the command waited
in its queue and was processed; after it, the rest of its batch, the commit, the relay, the
broker and the load generator. With `timeline`, the latencies are also given by the second
each command was sent in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypedDict

import pika
from pika.exceptions import ChannelClosedByBroker

from workers import bench_cpu, db, topology
from workers.bench_driver import Driver, Message
from workers.config import Settings
from workflows.bus import process
from workflows.commands import CreateOrder, InvoicePrepayment, LineInput, UpsertParty
from workflows.memory import InMemoryUnitOfWork

LINES: list[dict[str, Any]] = [
    {
        "line_no": 1,
        "item_id": "A",
        "description": "Widget",
        "quantity": "3",
        "unit_price": "99.99",
        "vat_percent": "25",
    },
    {
        "line_no": 2,
        "item_id": "B",
        "description": "Gadget",
        "quantity": "7",
        "unit_price": "12.35",
        "line_discount_percent": "5",
        "vat_percent": "12",
    },
]
PARTY = {
    "party_id": "BENCH-C",
    "side": "sales",
    "name": "Bench customer",
    "prepayment_percent": "30",
}


class Second(TypedDict):
    """The commands sent in one second of a run (0 is the first), and their latencies."""

    second: int
    commands: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Figures:
    commands: int
    orders: int
    workers: int
    seconds: float
    commands_per_s: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    database: str
    # With --split: publish to recorded, and recorded to received (None without).
    recorded_p50_ms: float | None = None
    recorded_p99_ms: float | None = None
    after_recorded_p50_ms: float | None = None
    after_recorded_p99_ms: float | None = None
    # With --split, per command type (a round of the life cycles): the same four and p50/p99.
    rounds: dict[str, dict[str, float]] | None = None
    # Milliseconds of CPU per command by part of the machine, while measured (`bench_cpu`).
    cpu_ms_per_command: dict[str, float] | None = None
    # With --timeline: the commands sent in each second of the run, and their latencies.
    timeline: list[Second] | None = None


def prepayment_gross() -> str:
    """What the life cycle's payment must be: the prepayment invoice's gross, from the domain."""
    uow = InMemoryUnitOfWork()
    process("p", UpsertParty("BENCH-C", "sales", "x", Decimal(30)), uow)
    lines = tuple(
        LineInput(
            x["line_no"],
            x["item_id"],
            Decimal(x["quantity"]),
            Decimal(x["unit_price"]),
            line_discount_percent=Decimal(x.get("line_discount_percent", "0")),
            vat_percent=Decimal(x["vat_percent"]),
        )
        for x in LINES
    )
    process("o", CreateOrder("O", "sales", "BENCH-C", "EUR", date(2026, 11, 27), lines), uow)
    outcome = process("i", InvoicePrepayment("O"), uow)
    return str(outcome.events[0].data["amount_due"])


Mix = Literal["rounds", "steady"]
STEADY_LAG = 100  # orders between one step of a life cycle and the next, in the steady mix


def life_cycles(
    orders: int, run_id: str, amount: str, *, mix: Mix = "rounds"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The commands of `orders` whole life cycles, each order's in its own order.

    `rounds`: all creates, then all prepayment invoices, then all payments, then all final
    invoices, as an upstream system catching up on a backlog would send them. `steady`: the
    life cycles overlap: step k of order n (k = 0 for the create) goes out beside the create
    of order n + k x lag, where lag is `STEADY_LAG` orders (a quarter of the orders in a
    short run), so the mix of command types at any moment is the whole run's, as when orders
    arrive over time and move on while new ones come in. Rounds put the costliest commands
    together (an invoice is twice a create's work and has three events), which was a
    suspect for the tail at half the maximum rate; the steady mix's p99 was lower in each
    pair of runs, but within the spread between runs of either (docs/performance.md, the
    eighth machine)."""
    ids = [f"B-{run_id}-{n}" for n in range(orders)]
    steps: list[Callable[[str], tuple[str, dict[str, Any]]]] = [
        _create,
        _invoice_prepayment,
        partial(_record_payment, amount),
        _invoice_final,
    ]
    if mix == "rounds":
        for step in steps:
            for order_id in ids:
                yield step(order_id)
        return
    if mix != "steady":
        raise ValueError(f"mix: {mix!r} is neither 'rounds' nor 'steady'")
    lag = min(STEADY_LAG, max(1, orders // 4))  # a short run still overlaps
    for slot in range(orders + lag * (len(steps) - 1)):
        for position, step in enumerate(steps):
            n = slot - position * lag
            if 0 <= n < orders:
                yield step(ids[n])


def _create(order_id: str) -> tuple[str, dict[str, Any]]:
    return (
        "order.create",
        {
            "order_id": order_id,
            "side": "sales",
            "party_id": "BENCH-C",
            "currency": "EUR",
            "order_date": "2026-11-27",
            "lines": LINES,
        },
    )


def _invoice_prepayment(order_id: str) -> tuple[str, dict[str, Any]]:
    return "prepayment.invoice", {"order_id": order_id}


def _record_payment(amount: str, order_id: str) -> tuple[str, dict[str, Any]]:
    return (
        "payment.record",
        {"order_id": order_id, "payment_id": f"P-{order_id}", "amount": amount, "currency": "EUR"},
    )


def _invoice_final(order_id: str) -> tuple[str, dict[str, Any]]:
    return "order.invoice", {"order_id": order_id}


def _envelope(command_type: str, data: dict[str, Any], subject: str) -> tuple[str, bytes]:
    command_id = str(uuid.uuid4())
    body = {
        "specversion": "1.0",
        "id": command_id,
        "source": "prepay-bench",
        "type": command_type,
        "subject": subject,
        "data": data,
    }
    return command_id, json.dumps(body).encode()


def command_message(command_type: str, data: dict[str, Any], subject: str) -> Message:
    """A command as upstream systems publish it; its events answer it by correlation id."""
    command_id, body = _envelope(command_type, data, subject)
    properties = pika.BasicProperties(
        message_id=command_id,
        type=command_type,
        delivery_mode=2,
        content_type="application/cloudevents+json",
        headers={"subject": subject},
    )
    return Message(topology.COMMANDS, command_type, body, properties, command_id)


def _publish(channel: Any, command_type: str, data: dict[str, Any], subject: str) -> str:
    message = command_message(command_type, data, subject)
    channel.basic_publish(message.exchange, message.routing_key, message.body, message.properties)
    return message.answer_id


def _rss_mb(root_pid: int) -> float:
    """Peak resident memory (VmHWM) of the biggest process in the service's tree."""
    pids = {root_pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if int(stat[3]) == root_pid:
                pids.add(int(entry.name))
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def _wait_for_consumers(channel: Any, shards: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [
            channel.queue_declare(topology.shard_queue(s), passive=True).method.consumer_count
            for s in range(shards)
        ]
        if all(counts):
            return
        time.sleep(0.2)
    raise TimeoutError("the service did not start consuming in time")


def waiting_commands(amqp_url: str, shards: int) -> int:
    """Commands waiting in the shard queues, which `run` would purge (a missing queue: 0)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        waiting = 0
        for shard in range(shards):
            channel = connection.channel()
            try:
                declared = channel.queue_declare(topology.shard_queue(shard), passive=True)
            except ChannelClosedByBroker:  # 404: never declared, nothing waits
                continue
            waiting += declared.method.message_count
            channel.close()
        return waiting
    finally:
        connection.close()


def recorded_at(body: bytes) -> float | None:
    """The envelope's `time` (when the worker recorded the event) in Unix seconds; found by
    its text, which costs the load generator less than reading the envelope."""
    start = body.find(b'"time":"')
    if start < 0:
        return None
    start += len(b'"time":"')
    end = body.find(b'"', start)
    try:
        return datetime.fromisoformat(body[start:end].decode().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2)


def _split_figures(answers: list[tuple[str, float, float]]) -> dict[str, Any]:
    before = [recorded for _, _, recorded in answers]
    after = [total - recorded for _, total, recorded in answers]
    return {
        "recorded_p50_ms": _ms(before, 0.5),
        "recorded_p99_ms": _ms(before, 0.99),
        "after_recorded_p50_ms": _ms(after, 0.5),
        "after_recorded_p99_ms": _ms(after, 0.99),
    }


def latency_timeline(sent_at: list[float], latencies: list[float]) -> list[Second]:
    """Latency by the second each command was sent in (`second` 0 is the first), for the
    seconds that sent any. A backlog shows as latencies rising over several seconds, a stall
    as one second far above its neighbours: a p99 over the whole run tells neither apart."""
    by_second: dict[int, list[float]] = {}
    for sent, latency in zip(sent_at, latencies, strict=True):
        by_second.setdefault(int(sent), []).append(latency)
    return [
        Second(
            second=second,
            commands=len(group),
            p50_ms=_ms(group, 0.5),
            p99_ms=_ms(group, 0.99),
            max_ms=round(max(group) * 1000, 2),
        )
        for second, group in sorted(by_second.items())
    ]


def _rounds(
    answers: list[tuple[str, float, float]], messages: list[Message]
) -> dict[str, dict[str, float]]:
    """The figures of each round (command type) of the life cycles."""
    round_of = {message.answer_id: message.routing_key for message in messages}
    by_round: dict[str, list[tuple[str, float, float]]] = {}
    for answer in answers:
        by_round.setdefault(round_of[answer[0]], []).append(answer)
    return {
        name: {
            "p50_ms": _ms([total for _, total, _ in group], 0.5),
            "p99_ms": _ms([total for _, total, _ in group], 0.99),
            **_split_figures(group),
        }
        for name, group in by_round.items()
    }


def run(
    settings: Settings,
    commands: int,
    workers: int = 1,
    rate: float | None = None,
    *,
    split: bool = False,
    mix: Mix = "rounds",
    timeline: bool = False,
) -> Figures:
    """Publish `commands` commands (at `rate` per second, or as fast as the broker takes
    them) to a freshly started service and time them until each has its first event."""
    db.upgrade(settings.database_url)
    orders = max(1, commands // 4)
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    channel = connection.channel()
    topology.declare(channel, settings.shards)
    for shard in range(settings.shards):
        channel.queue_purge(topology.shard_queue(shard))
    env = {
        **os.environ,
        "PREPAY_DATABASE_URL": settings.database_url,
        "PREPAY_AMQP_URL": settings.amqp_url,
        "PREPAY_METRICS_PORT": "0",
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_consumers(channel, settings.shards)
        _publish(channel, "party.upsert", PARTY, "BENCH-C")
        time.sleep(0.5)
        amount = prepayment_gross()
        run_id = uuid.uuid4().hex[:8]
        messages = [
            command_message(command_type, data, data["order_id"])
            for command_type, data in life_cycles(orders, run_id, amount, mix=mix)
        ]
        cpu_at_start: bench_cpu.Sample | None = None

        def on_ready() -> None:  # the first publish follows
            nonlocal cpu_at_start
            if bench_cpu.available():
                cpu_at_start = bench_cpu.sample(service.pid)

        driver = Driver(
            settings.amqp_url,
            messages,
            (topology.EVENTS, "#"),
            rate=rate,
            stamp=recorded_at if split else None,
            on_ready=on_ready,
        )
        timing = driver.run()
        cpu = None
        if cpu_at_start is not None and timing.answered:
            cpu = bench_cpu.per_command(
                cpu_at_start, bench_cpu.sample(service.pid), timing.answered
            )
        rss = _rss_mb(service.pid)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        connection.close()
    splits: dict[str, Any] = {}
    if split and timing.splits:
        splits = {**_split_figures(timing.splits), "rounds": _rounds(timing.splits, messages)}
    return Figures(
        commands=timing.answered,
        orders=orders,
        workers=workers,
        seconds=round(timing.seconds, 3),
        commands_per_s=round(timing.answered / timing.seconds, 1),
        p50_ms=_ms(timing.latencies, 0.5),
        p99_ms=_ms(timing.latencies, 0.99),
        rss_mb=round(rss, 1),
        database=settings.database_url.split(":", 1)[0],
        cpu_ms_per_command=cpu,
        timeline=latency_timeline(timing.sent_at, timing.latencies) if timeline else None,
        **splits,
    )


def report(figures: Figures, as_json: bool) -> str:
    shown = {k: v for k, v in asdict(figures).items() if v is not None}
    listed = {"rounds", "cpu_ms_per_command", "timeline"}
    lines = [f"{k:22} {v}" for k, v in shown.items() if k not in listed]
    for name, values in (figures.rounds or {}).items():
        lines.append(f"{name:22} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    for window in figures.timeline or []:
        lines.append(
            f"{'second ' + str(window['second']):22} "
            + "  ".join(f"{k} {v}" for k, v in window.items() if k != "second")
        )
    if figures.cpu_ms_per_command:
        parts = figures.cpu_ms_per_command.items()
        lines.append(f"{'cpu_ms_per_command':22} " + "  ".join(f"{k} {v}" for k, v in parts))
    if as_json:
        lines.append(json.dumps(shown))
    return "\n".join(lines)
