"""`Idempotency-Key` on creating POSTs: the key table (`table`), where keys and first
responses are kept (`store`), and the handler decorator and app context (`middleware`)."""
