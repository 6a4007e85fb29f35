"""The worker anyone writes first, as a yardstick for `prepay bench` (issue 7): consume one
message, write one row and one event row in one SQL transaction, publish the event with a
per-message publisher confirm, ack. No domain logic at all.

    python bench/naive_worker.py --commands 5000 [--database-url URL] [--amqp-url URL] [--json]

It runs in a process of its own; the load generator of `prepay bench`
(`workers.bench_driver`) publishes N small commands to its queue and measures from the first
publish to the last event received downstream.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import uuid
from typing import Any

import pika
from sqlalchemy import create_engine, text

from workers.bench_driver import Driver, Message

QUEUE = "bench.naive.commands"
EVENTS = "bench.naive.events"


def setup(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
    channel.queue_declare(QUEUE, durable=True)
    channel.queue_purge(QUEUE)
    channel.exchange_declare(EVENTS, exchange_type="fanout", durable=True)


def worker(database_url: str, amqp_url: str, stop: Any, ready: Any) -> None:
    engine = create_engine(database_url)
    with engine.begin() as db:
        db.execute(
            text(
                "CREATE TABLE IF NOT EXISTS naive_commands (id VARCHAR(64) PRIMARY KEY, body TEXT)"
            )
        )
        db.execute(
            text("CREATE TABLE IF NOT EXISTS naive_events (id VARCHAR(64) PRIMARY KEY, body TEXT)")
        )
        db.execute(text("DELETE FROM naive_commands"))
        db.execute(text("DELETE FROM naive_events"))
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=1)
    ready.set()
    for method, properties, body in channel.consume(QUEUE, inactivity_timeout=0.2):
        if stop.is_set():
            break
        if method is None:
            continue
        event_id = str(uuid.uuid4())
        with engine.begin() as db:
            db.execute(
                text("INSERT INTO naive_commands VALUES (:id, :body)"),
                {"id": properties.message_id, "body": body.decode()},
            )
            db.execute(
                text("INSERT INTO naive_events VALUES (:id, :body)"),
                {"id": event_id, "body": body.decode()},
            )
        channel.basic_publish(
            EVENTS,
            "",
            body,
            pika.BasicProperties(
                message_id=event_id, correlation_id=properties.message_id, delivery_mode=2
            ),
        )
        channel.basic_ack(method.delivery_tag)
    channel.cancel()
    connection.close()
    engine.dispose()


def run(commands: int, database_url: str, amqp_url: str) -> dict[str, float]:
    """The naive worker in a process of its own (as prepay's service runs), fed and timed by
    the same load generator as `prepay bench`."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    setup(connection.channel())
    connection.close()
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Event()
    process = context.Process(target=worker, args=(database_url, amqp_url, stop, ready))
    process.start()
    try:
        if not ready.wait(60):
            raise TimeoutError("the naive worker did not start")
        messages = []
        for n in range(commands):
            message_id = f"naive-{n}-{uuid.uuid4()}"
            body = json.dumps({"id": message_id, "type": "order.create", "data": {"n": n}})
            properties = pika.BasicProperties(message_id=message_id)
            messages.append(Message("", QUEUE, body.encode(), properties, message_id))
        timing = Driver(amqp_url, messages, (EVENTS, "")).run()
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()
    latencies = sorted(timing.latencies)
    return {
        "commands": commands,
        "received": timing.answered,
        "seconds": timing.seconds,
        "commands_per_s": timing.answered / timing.seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--database-url", default="sqlite:///naive-bench.db")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.commands, args.database_url, args.amqp_url)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:16} {value:>12,.1f}")


if __name__ == "__main__":
    main()
