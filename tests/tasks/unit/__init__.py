"""Pure tests: domain and use cases over a fake unit of work; no I/O."""
