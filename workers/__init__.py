"""Adapters: everything that touches the outside (databases, RabbitMQ, the command line)."""
