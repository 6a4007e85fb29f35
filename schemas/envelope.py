"""The CloudEvents 1.0 envelope (structured mode, JSON) around every command and event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

_Attribute = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=200)]


class Envelope(BaseModel):
    """CloudEvents attributes plus `data`. Unknown attributes (CloudEvents extensions such as
    `traceparent`) are ignored rather than refused: they belong to the transport, not to us."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"]
    id: _Attribute = Field(description="Unique per message; the idempotency key of a command.")
    source: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=500)]
    type: _Attribute = Field(description="The command or event type, also the routing key.")
    time: datetime | None = None
    subject: Annotated[str, Strict(), StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="The ordering key: the order id, or the party or item id of a setup command.",
    )
    datacontenttype: Annotated[str, Strict()] = "application/json"
    correlationid: _Attribute | None = Field(
        default=None, description="On events: the `id` of the command that caused them."
    )
    data: dict[str, Any] = Field(default_factory=dict)
