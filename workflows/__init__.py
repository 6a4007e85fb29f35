"""The pure prepayment domain: no I/O, only the standard library and `transitions`."""
