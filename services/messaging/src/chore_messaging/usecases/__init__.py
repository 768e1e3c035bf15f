"""Use cases: one async function per command or query, each owning its transaction."""
