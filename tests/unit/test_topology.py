"""Topology declaration errors that an operator must be able to act on."""

from __future__ import annotations

from typing import Any

import pytest
from pika.exceptions import ChannelClosedByBroker

from workers import topology


class BrokerWithoutPlugin:
    """Accepts every declaration but the consistent-hash exchange, as RabbitMQ does when
    the plugin is not enabled."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def exchange_declare(self, exchange: str, exchange_type: str = "direct", **_: Any) -> None:
        if exchange_type == "x-consistent-hash":
            raise ChannelClosedByBroker(
                503, "COMMAND_INVALID - unknown exchange type 'x-consistent-hash'"
            )


def test_a_missing_consistent_hash_plugin_is_named_with_its_fix() -> None:
    with pytest.raises(topology.MissingPlugin, match="rabbitmq-plugins enable"):
        topology.declare(BrokerWithoutPlugin(), shards=2)


def test_shards_are_split_between_workers_without_gaps_or_overlaps() -> None:
    owned = [topology.shards_of(i, 3, 8) for i in range(3)]
    assert sorted(s for shards in owned for s in shards) == list(range(8))
