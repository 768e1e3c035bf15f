"""`chore-events`: the operator's view of the bus.

    chore-events [--nats-url URL] streams
    chore-events [--nats-url URL] dlq list [--stream TASKS] [--json]
    chore-events [--nats-url URL] dlq replay [--subject tasks.task.created] [--id EVENT_ID]
    chore-events [--nats-url URL] new-consumer --stream TASKS --durable NAME
                 [--from start|SEQ|ISO-TIME] [--filter tasks.task.created]
    chore-events [--nats-url URL] replay --stream TASKS --since SEQ|ISO-TIME --to PREFIX
                 [--filter tasks.task.created]

`--nats-url` defaults to $NATS_URL, then nats://127.0.0.1:4222.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TextIO

import nats
from nats.aio.client import Client as NATS
from nats.js.errors import APIError, NoStreamResponseError

from chore_common.bus.dlq import list_dead_letters, replay
from chore_common.bus.history import Start, create_consumer, replay_history


async def _streams(nc: NATS, out: TextIO) -> int:
    jsm = nc.jetstream()
    for info in await jsm.streams_info():
        cfg, state = info.config, info.state
        out.write(
            f"{cfg.name:<10} subjects={','.join(cfg.subjects or [])} messages={state.messages}"
            f" bytes={state.bytes} first_seq={state.first_seq} last_seq={state.last_seq}"
            f" replicas={cfg.num_replicas} max_age_s={int(cfg.max_age or 0)}"
            f" max_bytes={cfg.max_bytes or -1}"
            f" dup_window_s={int(cfg.duplicate_window or 0)}\n"
        )
        for consumer in await jsm.consumers_info(cfg.name or ""):
            out.write(
                f"  consumer {consumer.name}: pending={consumer.num_pending}"
                f" ack_pending={consumer.num_ack_pending}"
                f" redelivered={consumer.num_redelivered}"
                f" waiting={consumer.num_waiting}\n"
            )
    return 0


async def _dlq_list(nc: NATS, out: TextIO, *, stream: str | None, as_json: bool) -> int:
    letters = await list_dead_letters(nc.jetstream(), stream=stream)
    if as_json:
        out.write(json.dumps([letter.as_json() for letter in letters], indent=2) + "\n")
        return 0
    if not letters:
        out.write("no dead letters\n")
    for letter in letters:
        out.write(
            f"#{letter.seq} {letter.at} {letter.subject} id={letter.event_id}"
            f" consumer={letter.consumer} reason={letter.reason}"
            f" deliveries={letter.deliveries}\n    error: {letter.error}\n"
        )
    return 0


async def _dlq_replay(nc: NATS, out: TextIO, *, subject: str | None, event_id: str | None) -> int:
    replayed = await replay(nc.jetstream(), subject=subject, event_id=event_id)
    for letter in replayed:
        out.write(f"replayed #{letter.seq} {letter.subject} id={letter.event_id}\n")
    out.write(f"{len(replayed)} replayed\n")
    return 0


async def _new_consumer(nc: NATS, out: TextIO, args: argparse.Namespace) -> int:
    try:
        info = await create_consumer(
            nc.jetstream(),
            stream=args.stream,
            durable=args.durable,
            start=Start.parse(args.start),
            filter_subject=args.filter,
        )
    except APIError as exc:  # e.g. a durable of that name with another start
        out.write(f"refused: {exc.description}\n")
        return 1
    out.write(
        f"consumer {info.name} on {info.stream_name}: from {args.start},"
        f" {info.num_pending} events waiting\n"
    )
    return 0


async def _replay(nc: NATS, out: TextIO, args: argparse.Namespace) -> int:
    try:
        sent = await replay_history(
            nc.jetstream(),
            stream=args.stream,
            since=Start.parse(args.since),
            to=args.to,
            filter_subject=args.filter,
        )
    except NoStreamResponseError:
        out.write(f"refused: no stream holds {args.to}.>; create one for it first\n")
        return 1
    out.write(f"{sent} replayed from {args.stream} to {args.to}.>\n")
    return 0


START_HELP = "start, a stream sequence, or an ISO date/time (UTC when naive)"


def _new_consumer_args(new: argparse.ArgumentParser) -> None:
    new.add_argument("--stream", required=True, help="e.g. TASKS")
    new.add_argument("--durable", required=True, help="the consumer's name")
    new.add_argument("--from", dest="start", default="start", help=START_HELP)
    new.add_argument("--filter", help="only this subject (wildcards allowed)")


def _replay_args(again: argparse.ArgumentParser) -> None:
    again.add_argument("--stream", required=True, help="e.g. TASKS")
    again.add_argument("--since", required=True, help=START_HELP.removeprefix("start, "))
    again.add_argument("--to", required=True, help="subject prefix a stream of yours holds")
    again.add_argument("--filter", help="only this subject (wildcards allowed)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chore-events", description=__doc__.splitlines()[0])
    p.add_argument(
        "--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), help="server"
    )
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("streams", help="streams, their sizes and consumers")
    dlq = commands.add_parser("dlq", help="dead letters").add_subparsers(
        dest="dlq_command", required=True
    )
    listing = dlq.add_parser("list", help="list dead letters, oldest first")
    listing.add_argument("--stream", help="only those from this stream (e.g. TASKS)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    again = dlq.add_parser("replay", help="republish dead letters on their original subject")
    again.add_argument("--subject", help="only those originally on this subject")
    again.add_argument("--id", dest="event_id", help="only the event with this id")
    _new_consumer_args(
        commands.add_parser(
            "new-consumer", help="a durable pull consumer from the first event (or later)"
        )
    )
    _replay_args(
        commands.add_parser(
            "replay", help="republish a stream's past events to <to>.<subject>, in order"
        )
    )
    return p


async def run(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    nc = await nats.connect(args.nats_url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        if args.command == "streams":
            return await _streams(nc, out)
        if args.command == "new-consumer":
            return await _new_consumer(nc, out, args)
        if args.command == "replay":
            return await _replay(nc, out, args)
        if args.dlq_command == "list":
            return await _dlq_list(nc, out, stream=args.stream, as_json=args.json)
        return await _dlq_replay(nc, out, subject=args.subject, event_id=args.event_id)
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
