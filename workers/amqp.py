"""Connecting to RabbitMQ: one blocking connection per thread (pika is not thread-safe),
with heartbeats, and reconnection with capped exponential back-off."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pika
import structlog

log = structlog.get_logger("prepay.amqp")

HEARTBEAT_S = 30


def parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = HEARTBEAT_S
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    return params


def connect(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(parameters(url))


def backoff_delays(stop: threading.Event, first: float = 0.2, cap: float = 15.0) -> Iterator[float]:
    """0.2, 0.4, 0.8 ... seconds, capped, until `stop` is set."""
    delay = first
    while not stop.is_set():
        yield delay
        delay = min(delay * 2, cap)
