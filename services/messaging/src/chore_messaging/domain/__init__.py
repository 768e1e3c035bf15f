"""Messaging's pure core: conversations, who may read and write them, limits. No I/O."""
