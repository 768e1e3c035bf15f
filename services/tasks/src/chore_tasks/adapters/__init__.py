"""Storage and messaging adapters: tables, repositories, unit of work, outbox, scheduler, cache."""
