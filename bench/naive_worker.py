"""The worker anyone writes first, as a yardstick for `prepay bench` (issue 7): consume one
message, write one row and one event row in one SQL transaction, publish the event with a
per-message publisher confirm, ack. No domain logic at all.

    python bench/naive_worker.py --commands 5000 [--database-url URL] [--amqp-url URL] [--json]

It publishes N small commands to its own queue, consumes them, and measures from the first
publish to the last event received downstream, like `prepay bench`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import pika
from sqlalchemy import create_engine, text

QUEUE = "bench.naive.commands"
EVENTS = "bench.naive.events"


def setup(channel: pika.adapters.blocking_connection.BlockingChannel) -> str:
    channel.queue_declare(QUEUE, durable=True)
    channel.queue_purge(QUEUE)
    channel.exchange_declare(EVENTS, exchange_type="fanout", durable=True)
    sink = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(sink, EVENTS)
    return str(sink)


def worker(database_url: str, amqp_url: str, stop: threading.Event) -> None:
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
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    sink = setup(channel)
    stop = threading.Event()
    thread = threading.Thread(target=worker, args=(database_url, amqp_url, stop), daemon=True)
    thread.start()
    time.sleep(0.5)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(commands):
        message_id = f"naive-{n}-{uuid.uuid4()}"
        sent[message_id] = time.perf_counter()
        body = json.dumps({"id": message_id, "type": "order.create", "data": {"n": n}})
        channel.basic_publish("", QUEUE, body, pika.BasicProperties(message_id=message_id))
    received = 0
    for method, properties, _body in channel.consume(sink, auto_ack=True, inactivity_timeout=30):
        if method is None:
            break
        latencies.append(time.perf_counter() - sent[properties.correlation_id])
        received += 1
        if received == commands:
            break
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(10)
    connection.close()
    latencies.sort()
    return {
        "commands": commands,
        "received": received,
        "seconds": elapsed,
        "commands_per_s": received / elapsed,
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
