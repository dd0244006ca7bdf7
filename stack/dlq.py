"""``pspx dlq``: what the consumers dead-lettered, listed, and sent back once its cause is mended.

``list`` reads the dead-letter topics (``<topic>.dlq``) without a consumer
group, from the beginning to the end offsets they had when it started: it
changes nothing and always ends. ``redrive`` sends chosen dead letters back to
their topic with the same key and value, so every consumer of the topic gets
them again; handlers are idempotent, so one already applied changes nothing.

What was re-driven is recorded in the dead-letter topic itself: once the copy
is acknowledged, a marker (an empty record with a ``dlq_redriven_origin``
header) names the original record it stood for. Markers need nothing of the
broker but produce and fetch, serve one chosen record as well as all of them,
and show in a listing. A marker covers every dead letter of the same original
record: a follower dead-letters a poison record again at each start, and two
services may dead-letter the same one, while one copy back reaches them all.
A crash between a copy and its marker re-drives that record again next time,
which the version guards absorb.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from pspx import topics
from pspx.settings import Settings

if TYPE_CHECKING:
    from aiokafka.structs import ConsumerRecord

REDRIVEN_FROM = "dlq_redriven_from"  # on a copy sent back and on its marker: the dead letter
REDRIVEN_ORIGIN = "dlq_redriven_origin"  # on a marker only: the original record it covers
REDRIVEN_TO = "dlq_redriven_to"  # on a marker only: where the copy went
STALL_S = 5.0  # the embedded broker can report an end offset it never serves
ERROR_WIDTH = 70
KEY_WIDTH = 40

T = TypeVar("T")


class Refused(ValueError):
    """A bad argument, found before anything is sent."""


def dead_letter_topic(name: str) -> str:
    """The dead-letter topic of an event topic named with or without ``.dlq``."""
    base = name.removesuffix(".dlq")
    if base not in topics.ALL:
        raise Refused(
            f"unknown topic {name!r}: one of {', '.join(topics.ALL)} (with or without .dlq)"
        )
    return topics.dead_letter(base)


def parse_position(text: str) -> tuple[int | None, int]:
    """``OFFSET`` or ``PARTITION@OFFSET`` as (partition or None, offset)."""
    partition, at, offset = text.rpartition("@")
    if not offset.isdecimal() or (at and not partition.isdecimal()):
        raise Refused(f"not an offset: {text!r} (give OFFSET or PARTITION@OFFSET)")
    return (int(partition) if partition else None), int(offset)


@dataclass(frozen=True)
class Letter:
    """One record of a dead-letter topic: a dead letter, or the marker of a re-drive."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> str:
        return f"{self.partition}@{self.offset}"

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.position}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def origin(self) -> str:
        """The original record (topic/partition@offset); what a re-drive stands for."""
        return self.header("dlq_origin") or self.where

    @property
    def is_marker(self) -> bool:
        return self.header(REDRIVEN_ORIGIN) is not None


@dataclass(frozen=True)
class Holding:
    """What one dead-letter topic holds: its dead letters, and the markers of re-drives."""

    topic: str
    letters: tuple[Letter, ...]
    markers: tuple[Letter, ...] = ()
    short: tuple[int, ...] = ()  # partitions read only in part (see STALL_S)

    @cached_property
    def redriven(self) -> dict[str, str]:
        """Original record -> where its copy went."""
        return {m.header(REDRIVEN_ORIGIN) or "": m.header(REDRIVEN_TO) or "" for m in self.markers}

    @classmethod
    def of(cls, topic: str, records: Iterable[Letter], short: Iterable[int] = ()) -> Holding:
        ordered = sorted(records, key=lambda r: (r.partition, r.offset))
        return cls(
            topic,
            tuple(r for r in ordered if not r.is_marker),
            tuple(r for r in ordered if r.is_marker),
            tuple(sorted(short)),
        )

    def pending(self) -> list[Letter]:
        return [letter for letter in self.letters if letter.origin not in self.redriven]

    def at(self, wanted: str) -> Letter:
        """The dead letter at ``OFFSET`` (in whichever partition holds it) or
        ``PARTITION@OFFSET``."""
        partition, offset = parse_position(wanted)

        def there(records: Iterable[Letter]) -> list[Letter]:
            return [r for r in records if r.offset == offset and partition in (None, r.partition)]

        found = there(self.letters)
        if len(found) == 1:
            return found[0]
        if found:
            held = ", ".join(r.position for r in found)
            raise Refused(
                f"offset {offset} of {self.topic} is in more than one partition ({held}): "
                "give it as PARTITION@OFFSET"
            )
        if there(self.markers):
            raise Refused(f"{self.topic} {wanted} marks a re-drive; it is not a dead letter")
        raise Refused(f"{self.topic} has no dead letter at {wanted}")


@dataclass(frozen=True)
class Plan:
    send: tuple[Letter, ...]
    skipped: tuple[tuple[Letter, str], ...]  # and why


def plan(holding: Holding, wanted: Sequence[str] | None) -> Plan:
    """The dead letters at the ``wanted`` positions, or (None) all not yet re-driven: one
    for each original record, none already re-driven. Raises ``Refused`` for a position
    that holds no dead letter."""
    chosen = holding.pending() if wanted is None else [holding.at(w) for w in wanted]
    send: dict[str, Letter] = {}
    skipped: list[tuple[Letter, str]] = []
    for letter in dict.fromkeys(chosen):
        if letter.origin in holding.redriven:
            skipped.append((letter, f"already re-driven to {holding.redriven[letter.origin]}"))
        elif letter.origin in send:
            first = send[letter.origin].position
            skipped.append((letter, f"the same record ({letter.origin}) as {first}"))
        else:
            send[letter.origin] = letter
    return Plan(tuple(send.values()), tuple(skipped))


def redrive_headers(letter: Letter) -> list[tuple[str, bytes]]:
    """The record's own headers and where this copy comes from, without the dead-letter
    headers: a consumer that dead-letters the copy writes its own."""
    kept = [(k, v) for k, v in letter.headers if not k.startswith("dlq_")]
    return [*kept, (REDRIVEN_FROM, letter.where.encode())]


def marker_headers(letter: Letter, sent_to: str) -> list[tuple[str, bytes]]:
    return [
        (REDRIVEN_ORIGIN, letter.origin.encode()),
        (REDRIVEN_FROM, letter.where.encode()),
        (REDRIVEN_TO, sent_to.encode()),
    ]


def _when(letter: Letter) -> str:
    moment = datetime.fromtimestamp(letter.timestamp_ms / 1000, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _key(letter: Letter) -> str:
    return (letter.key or b"").decode(errors="replace")


def describe(letter: Letter, holding: Holding) -> dict[str, Any]:
    """A dead letter as one JSON object, its value as text when it is UTF-8."""
    try:
        value: dict[str, str] = {"value": letter.value.decode()}
    except UnicodeDecodeError:
        value = {"value_base64": base64.b64encode(letter.value).decode()}
    attempts = letter.header("dlq_attempts")
    return {
        "dlq": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "origin": letter.origin,
        "consumer": letter.header("dlq_consumer"),
        "group": letter.header("dlq_group"),
        "attempts": int(attempts) if attempts and attempts.isdecimal() else None,
        "timestamp": _when(letter),
        "error": letter.header("dlq_error"),
        "key": None if letter.key is None else _key(letter),
        **value,
        "headers": {k: v.decode(errors="replace") for k, v in letter.headers},
        "redriven_to": holding.redriven.get(letter.origin),
    }


def table(holding: Holding) -> list[str]:
    """The dead letters as the lines of a table, the error last and shortened."""
    rows = [("OFFSET", "ORIGIN", "CONSUMER", "GROUP", "TRIES", "WHEN", "STATUS", "KEY", "ERROR")]
    for letter in holding.letters:
        status = "re-driven" if letter.origin in holding.redriven else "to re-drive"
        rows.append(
            (
                letter.position,
                letter.origin,
                letter.header("dlq_consumer") or "?",
                letter.header("dlq_group") or "?",
                letter.header("dlq_attempts") or "?",
                _when(letter),
                status,
                _short(_key(letter), KEY_WIDTH),
                _short(letter.header("dlq_error") or "", ERROR_WIDTH),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]


def summary(holding: Holding) -> str:
    if not holding.letters:
        line = f"{holding.topic}: no dead letters"
    else:
        line = (
            f"{holding.topic}: {len(holding.letters)} dead letters, "
            f"{len(holding.pending())} to re-drive"
        )
    if holding.short:
        partitions = ", ".join(map(str, holding.short))
        line += f" (partitions {partitions} stopped short of their end offsets: read in part)"
    return line


async def fetch(bootstrap: str, names: Sequence[str], stall_s: float = STALL_S) -> list[Holding]:
    """Each named dead-letter topic, read from the beginning to its end offsets at the start,
    without a consumer group. A topic the broker does not have holds nothing."""
    # Imported here: every ``pspx`` command loads this module, and only these two need it.
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    found: dict[str, list[Letter]] = {name: [] for name in names}
    short: dict[str, list[int]] = {name: [] for name in names}
    try:
        await consumer.start()
        await consumer.topics()  # metadata for every topic
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        if partitions:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            left = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
            clock = asyncio.get_running_loop().time
            moved_at = clock()
            while left:
                batch = await consumer.getmany(*left, timeout_ms=200)
                for tp, records in batch.items():
                    kept = [r for r in records if r.offset < end[tp]]
                    moved_at = clock() if kept else moved_at
                    found[tp.topic] += [_letter(r) for r in kept]
                left = {tp for tp in left if await consumer.position(tp) < end[tp]}
                if left and clock() - moved_at > stall_s:
                    for tp in left:
                        short[tp.topic].append(tp.partition)
                    break
    finally:
        await consumer.stop()
    return [Holding.of(name, found[name], short[name]) for name in names]


def _letter(record: ConsumerRecord[bytes, bytes]) -> Letter:
    return Letter(
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        record.key,
        record.value or b"",
        tuple(record.headers or ()),
    )


async def send_back(
    settings: Settings, letters: Sequence[Letter], on_sent: Callable[[Letter, str], None]
) -> None:
    """Republish each dead letter to its topic, then mark it re-driven in its dead-letter
    topic; ``on_sent`` hears of each (with where the copy went) as soon as it is marked."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
    )
    try:
        await producer.start()
        for letter in letters:
            sent = await producer.send_and_wait(
                letter.topic.removesuffix(".dlq"),
                letter.value,
                key=letter.key,
                headers=redrive_headers(letter),
            )
            sent_to = f"{sent.topic}/{sent.partition}@{sent.offset}"
            await producer.send_and_wait(
                letter.topic, b"", key=letter.key, headers=marker_headers(letter, sent_to)
            )
            on_sent(letter, sent_to)
    finally:
        await producer.stop()


app = typer.Typer(
    help="Dead-lettered messages: list them, and send them back once their cause is mended.",
    no_args_is_help=True,
)


def _refuse(command: str, reason: str, code: int = 2) -> NoReturn:
    print(f"pspx dlq {command}: {reason}", file=sys.stderr)
    raise typer.Exit(code)


def _run(command: str, settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    from aiokafka.errors import KafkaError

    try:
        return asyncio.run(work)
    except KafkaError as exc:
        _refuse(command, f"the broker at {settings.kafka_bootstrap} failed: {exc!r}", code=1)


@app.command("list")
def list_(
    topic: Annotated[
        list[str] | None,
        typer.Argument(help="Event topics, with or without .dlq (default: every one)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line; the counts go to stderr")
    ] = False,
) -> None:
    """Show what was dead-lettered, topic by topic, with a count for each; changes nothing."""
    try:
        names = [dead_letter_topic(t) for t in topic or topics.ALL]
    except Refused as exc:
        _refuse("list", str(exc))
    settings = Settings()
    holdings = _run("list", settings, fetch(settings.kafka_bootstrap, list(dict.fromkeys(names))))
    for holding in holdings:
        if as_json:
            for letter in holding.letters:
                print(json.dumps(describe(letter, holding), ensure_ascii=False))
        elif holding.letters:
            print(holding.topic)
            for line in table(holding):
                print(f"  {line}")
    for holding in holdings:
        print(summary(holding), file=sys.stderr if as_json else sys.stdout)


@app.command()
def redrive(
    topic: Annotated[str, typer.Argument(help="The event topic, with or without .dlq")],
    offset: Annotated[
        list[str] | None,
        typer.Option(
            help="A dead letter's OFFSET or PARTITION@OFFSET in the dlq, as `pspx dlq list` "
            "shows it; repeatable"
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter not yet re-driven")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing")] = False,
) -> None:
    """Send dead letters back to their topic with the same key and value; skip any already sent."""
    if bool(offset) == all_:
        _refuse("redrive", "choose the dead letters: --offset (one or more) or --all")
    try:
        name = dead_letter_topic(topic)
        for wanted in offset or ():
            parse_position(wanted)
    except Refused as exc:
        _refuse("redrive", str(exc))
    settings = Settings()
    (holding,) = _run("redrive", settings, fetch(settings.kafka_bootstrap, [name]))
    try:
        chosen = plan(holding, None if all_ else offset)
    except Refused as exc:
        _refuse("redrive", str(exc))
    for letter, why in chosen.skipped:
        print(f"skipped {letter.position}: {why}")
    target = name.removesuffix(".dlq")
    if not chosen.send:
        print(f"nothing to re-drive in {name}")
        return
    if dry_run:
        for letter in chosen.send:
            print(f"would send {letter.position} -> {target}  key {_key(letter)!r}")
        print(f"dry run: {len(chosen.send)} dead letters would go back to {target}; none sent")
        return

    def said(letter: Letter, sent_to: str) -> None:
        print(f"sent {letter.position} -> {sent_to}  key {_key(letter)!r}")

    _run("redrive", settings, send_back(settings, chosen.send, said))
    print(f"re-drove {len(chosen.send)} dead letters from {name} to {target}")
