"""Data shapes: the wire contract (pydantic models of the CloudEvents envelope, command and event
`data`, the AsyncAPI document generated from them) and the SQLModel tables."""
