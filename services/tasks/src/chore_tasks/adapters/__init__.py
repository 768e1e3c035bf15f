"""Storage and messaging adapters: tables, repositories, unit of work, contracts, scheduler,
cache."""
