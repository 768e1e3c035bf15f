"""Pure domain: the lifecycle, who may do what, events and scheduling rules. No I/O."""
