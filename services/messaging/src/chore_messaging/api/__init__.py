"""HTTP and WebSocket entry points of /messaging: parse, call one use case, render."""
