"""The gateway's I/O: the upstream proxy client, its deadlines, WebSocket relay, health
probes, the services' API documents, its client connections and its metrics port."""
