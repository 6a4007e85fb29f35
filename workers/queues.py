"""`prepay queues`: every prepay queue with its depth, its consumers and the dead letters that
came from it.

Depth and consumers come from the management API when it is enabled (it also knows the
unacknowledged messages, and finds shard queues beyond the configured count), else from passive
declares over AMQP (ready messages and consumers of the queues the topology names). The
management API refreshes its figures every few seconds; passive declares are exact.
Dead letters are counted by the queue they were parked from, looking at up to `peek` of them
and handing every one back (`workers.dead_letters`).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import pika
from pika.exceptions import ChannelClosedByBroker

from workers import topology
from workers.amqp import connect
from workers.dead_letters import DeadLetter, DeadLetterQueue

PREFIX = "prepay."


@dataclass
class QueueFigures:
    name: str
    ready: int
    unacked: int | None  # None: passive declares cannot tell
    consumers: int
    dead_letters: int = 0  # parked from this queue


@dataclass
class QueuesReport:
    source: str  # "management API" | "passive declares"
    note: str | None
    queues: list[QueueFigures]
    dead_letters_total: int
    dead_letters_counted: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_management_url(amqp_url: str) -> str:
    host = urllib.parse.urlsplit(amqp_url).hostname or "127.0.0.1"
    return f"http://{host}:15672"


def from_management(amqp_url: str, management_url: str, timeout: float = 5.0) -> list[QueueFigures]:
    """The vhost's prepay queues as the management API lists them (raises OSError, which
    includes urllib's errors, when the API cannot be used)."""
    params = pika.URLParameters(amqp_url)
    credentials = params.credentials
    user, password = getattr(credentials, "username", ""), getattr(credentials, "password", "")
    vhost = urllib.parse.quote(params.virtual_host, safe="")
    url = (
        f"{management_url.rstrip('/')}/api/queues/{vhost}"
        "?columns=name,messages_ready,messages_unacknowledged,consumers"
    )
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        listed = json.loads(response.read())
    return sorted(
        (
            QueueFigures(
                q["name"],
                int(q.get("messages_ready") or 0),
                int(q.get("messages_unacknowledged") or 0),
                int(q.get("consumers") or 0),
            )
            for q in listed
            if q["name"].startswith(PREFIX)
        ),
        key=lambda figures: _order(figures.name),
    )


def from_declares(connection: Any, shards: int) -> list[QueueFigures]:
    """The queues the topology names, by passive declare (a missing one is left out)."""
    names = [*map(topology.shard_queue, range(shards)), topology.DEAD_LETTERS, topology.UNROUTED]
    found = []
    channel = connection.channel()
    for name in names:
        try:
            method = channel.queue_declare(name, passive=True).method
        except ChannelClosedByBroker:  # 404: the queue does not exist (yet)
            channel = connection.channel()
            continue
        found.append(QueueFigures(name, method.message_count, None, method.consumer_count))
    channel.close()
    return sorted(found, key=lambda figures: _order(figures.name))


def _order(name: str) -> tuple[int, int, str]:
    """Shard queues first, by number; the rest by name."""
    head = topology.shard_queue(0)[:-1]
    if name.startswith(head) and name[len(head) :].isdigit():
        return (0, int(name[len(head) :]), name)
    return (1, 0, name)


def origin(letter: DeadLetter) -> str | None:
    """The queue a dead letter was parked from: our header, else the broker's x-death."""
    queue = letter.headers.get("x-prepay-queue")
    if queue is None:
        deaths = letter.headers.get("x-death") or []
        if deaths and isinstance(deaths[0], dict):
            queue = deaths[0].get("queue")
    if isinstance(queue, bytes):
        return queue.decode("utf-8", errors="replace")
    return None if queue is None else str(queue)


def report(
    amqp_url: str, shards: int, management_url: str | None, *, use_management: bool = True,
    peek: int = 1000,
) -> QueuesReport:  # fmt: skip
    connection = connect(amqp_url)
    try:
        note = None
        queues: list[QueueFigures] | None = None
        if use_management:
            url = management_url or default_management_url(amqp_url)
            try:
                queues = from_management(amqp_url, url)
                source = f"management API at {url}"
            except (OSError, ValueError, KeyError) as error:
                note = f"management API at {url} unavailable ({_reason(error)})"
        if queues is None:
            queues = from_declares(connection, shards)
            source = "passive declares"
        channel = connection.channel()
        dead = DeadLetterQueue(channel)
        try:
            total = dead.count()
        except ChannelClosedByBroker:  # no dead-letter queue yet: nothing was ever parked
            total, letters = 0, []
        else:
            letters = dead.peek(peek) if total else []
        origins = Counter(origin(letter) for letter in letters)
        for figures in queues:
            figures.dead_letters = origins.get(figures.name, 0)
        return QueuesReport(source, note, queues, total, len(letters))
    finally:
        if connection.is_open:
            connection.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__
