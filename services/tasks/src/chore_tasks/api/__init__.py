"""HTTP in: parse the request, call one use case, render. Errors are raised, never caught."""
