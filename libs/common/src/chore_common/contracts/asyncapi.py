"""Generate the AsyncAPI 3.0 document of every registered contract.

`python -m chore_common.contracts.asyncapi --write docs/asyncapi.yaml` regenerates it;
`--check PATH` exits 1 when the committed file differs (CI runs it via `make asyncapi-check`).
The output is deterministic (sorted contracts, fixed key order) so the check is a byte compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

import chore_common.contracts  # noqa: F401 - registers every contract
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract, producer_of, registered

STREAMS = {"auth": "AUTH", "tasks": "TASKS", "messaging": "MESSAGING"}
REF = "#/components/schemas/{model}"


def _camel(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


def _channel_id(event_type: str) -> str:
    return event_type.replace(".", "_")


def _message_name(contract: type[Contract]) -> str:
    return contract.__name__


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "The envelope id; JetStream drops a repeat within 2 minutes",
            },
            "traceparent": {"type": "string", "description": "W3C trace context"},
            "tracestate": {"type": "string", "description": "W3C trace state"},
        },
        "required": ["Nats-Msg-Id"],
    }


def _envelope_schema(contract: type[Contract]) -> dict[str, Any]:
    base = Envelope.model_json_schema(ref_template=REF)
    props = dict(base["properties"])
    props["type"] = {**props["type"], "const": contract.TYPE}
    props["version"] = {**props["version"], "const": contract.VERSION}
    props["producer"] = {**props["producer"], "const": producer_of(contract.TYPE)}
    props["data"] = {"$ref": REF.format(model=contract.__name__)}
    return {
        "type": "object",
        "title": f"{contract.__name__}Envelope",
        "properties": props,
        "required": base["required"],
    }


def _collect_schemas(contract: type[Contract], into: dict[str, Any]) -> None:
    schema = contract.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        into[name] = sub
    into[contract.__name__] = schema


INFO = {
    "title": "Chore platform events",
    "version": "1.0.0",
    "description": (
        "Events of the chore marketplace platform on NATS JetStream. Every message is "
        "an envelope {id, type, version, occurred_at, producer, data}; `version` is the "
        "payload's major version. Delivery is at least once: consumers keep an inbox "
        "of handled ids. Generated from chore_common.contracts; do not edit by hand."
    ),
}
SERVERS = {
    "local": {
        "host": "127.0.0.1:4222",
        "protocol": "nats",
        "description": "Embedded nats-server with JetStream (make run)",
    }
}


def _channel(contract: type[Contract]) -> dict[str, Any]:
    producer = producer_of(contract.TYPE)
    return {
        "address": contract.TYPE,
        "description": (
            f"Published by {producer} through its outbox into stream "
            f"{STREAMS.get(producer, producer.upper())}."
        ),
        "messages": {},
    }


def _message(contract: type[Contract], name: str) -> dict[str, Any]:
    return {
        "name": contract.TYPE,
        "title": f"{contract.TYPE} v{contract.VERSION}",
        "summary": (contract.__doc__ or contract.TYPE).strip().splitlines()[0],
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/NatsHeaders"},
        "payload": {"$ref": f"#/components/schemas/{name}Envelope"},
    }


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for contract in registered():
        cid = _channel_id(contract.TYPE)
        name = _message_name(contract)
        channel = channels.setdefault(cid, _channel(contract))
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        messages[name] = _message(contract, name)
        schemas[f"{name}Envelope"] = _envelope_schema(contract)
        _collect_schemas(contract, schemas)
        operations[f"publish{_camel(contract.TYPE)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in channel["messages"]],
        }
    schemas["NatsHeaders"] = _headers_schema()
    return {
        "asyncapi": "3.0.0",
        "info": INFO,
        "defaultContentType": "application/json",
        "servers": SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    header = "# Generated by `make asyncapi` from chore_common.contracts. Do not edit.\n"
    body = yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chore_common.contracts.asyncapi")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="PATH", type=Path, help="write the document")
    group.add_argument("--check", metavar="PATH", type=Path, help="fail when PATH is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.write is not None:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
        print(f"wrote {args.write}")
        return 0
    path: Path = args.check
    current = path.read_text() if path.exists() else ""
    if current != text:
        print(f"{path} is stale: run `make asyncapi` and commit it", file=sys.stderr)
        return 1
    print(f"{path} is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
