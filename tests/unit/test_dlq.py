"""``pspx dlq``'s pure parts: naming topics, reading positions, choosing dead letters, the
headers of a copy and of its marker, and what a listing shows."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from stack import dlq
from stack.cli import app
from stack.dlq import Holding, Letter, Refused
from stack.embedded import free_port

DLQ = "registry.organisations.dlq"
ORIGINAL = (("event_id", b"e-1"), ("event_type", b"organisation.registered"))


def letter(
    partition: int,
    offset: int,
    origin: str | None = None,
    *,
    consumer: str = "organisations",
    error: str = "NewerVersion: organisation.registered version 2 is newer than this reader's 1",
    value: bytes = b'{"event_type": "organisation.registered"}',
) -> Letter:
    """A dead letter as ``pspx.consumers.dead_letter`` writes it."""
    dead = {
        "dlq_error": error,
        "dlq_attempts": "1",
        "dlq_origin": origin or f"registry.organisations/{partition}@{offset + 40}",
        "dlq_group": "exchange" if consumer == "organisations" else "(none)",
        "dlq_consumer": consumer,
    }
    headers = ORIGINAL + tuple((k, v.encode()) for k, v in dead.items())
    return Letter(DLQ, partition, offset, 1_790_000_000_000, b"GB-CHC-1", value, headers)


def marker(partition: int, offset: int, of: Letter, sent_to: str) -> Letter:
    return Letter(DLQ, partition, offset, 0, of.key, b"", tuple(dlq.marker_headers(of, sent_to)))


@pytest.mark.parametrize("name", ["registry.organisations", "registry.organisations.dlq"])
def test_a_topic_is_named_with_or_without_its_suffix(name: str) -> None:
    assert dlq.dead_letter_topic(name) == DLQ


@pytest.mark.parametrize("name", ["registry.orgs", "registry.organisations.dlq.dlq", ""])
def test_an_unknown_topic_is_refused_by_name(name: str) -> None:
    with pytest.raises(Refused, match=f"unknown topic {name!r}"):
        dlq.dead_letter_topic(name)


@pytest.mark.parametrize(("text", "position"), [("7", (None, 7)), ("2@7", (2, 7))])
def test_a_position_is_an_offset_or_partition_at_offset(
    text: str, position: tuple[int | None, int]
) -> None:
    assert dlq.parse_position(text) == position


@pytest.mark.parametrize("text", ["", "x", "-1", "@7", "2@", "a@1", "1@2@3", "²"])
def test_anything_else_is_not_a_position(text: str) -> None:
    with pytest.raises(Refused, match="not an offset"):
        dlq.parse_position(text)


def test_markers_are_told_from_dead_letters_and_cover_every_letter_of_their_origin() -> None:
    exchange = letter(1, 0)
    index = letter(1, 1, exchange.origin, consumer="index")  # the same record, another reader
    other = letter(2, 0)
    holding = Holding.of(
        DLQ, [other, marker(1, 2, index, "registry.organisations/1@77"), index, exchange]
    )

    assert holding.letters == (exchange, index, other)
    assert holding.redriven == {exchange.origin: "registry.organisations/1@77"}
    assert holding.pending() == [other]


def test_a_dead_letter_is_found_by_its_offset_when_no_other_partition_has_it() -> None:
    holding = Holding.of(DLQ, [letter(0, 0), letter(0, 1), letter(3, 0)])

    assert holding.at("1") == letter(0, 1)
    assert holding.at("3@0") == letter(3, 0)
    with pytest.raises(Refused, match=r"more than one partition \(0@0, 3@0\)"):
        holding.at("0")
    with pytest.raises(Refused, match="no dead letter at 1@0"):
        holding.at("1@0")


def test_a_marker_is_not_a_dead_letter_to_choose() -> None:
    first = letter(0, 0)
    holding = Holding.of(DLQ, [first, marker(0, 1, first, "registry.organisations/0@9")])

    with pytest.raises(Refused, match="0@1 marks a re-drive"):
        holding.at("0@1")
    assert holding.at("0") == first  # the marker's offset is not a dead letter's


def test_all_sends_one_copy_of_each_original_record_not_yet_redriven() -> None:
    done = letter(0, 0)
    exchange = letter(1, 0)
    index = letter(1, 1, exchange.origin, consumer="index")
    again = letter(1, 2, exchange.origin, consumer="index")  # a follower's next start
    fresh = letter(2, 0)
    holding = Holding.of(
        DLQ,
        [done, marker(0, 1, done, "registry.organisations/0@50"), exchange, index, again, fresh],
    )

    chosen = dlq.plan(holding, None)

    assert chosen.send == (exchange, fresh)
    assert [(skipped.position, why) for skipped, why in chosen.skipped] == [
        ("1@1", f"the same record ({exchange.origin}) as 1@0"),
        ("1@2", f"the same record ({exchange.origin}) as 1@0"),
    ]


def test_chosen_offsets_skip_what_was_redriven_and_refuse_what_is_not_there() -> None:
    done = letter(0, 0)
    fresh = letter(2, 0)
    holding = Holding.of(DLQ, [done, marker(0, 1, done, "registry.organisations/0@50"), fresh])

    chosen = dlq.plan(holding, ["0@0", "2@0", "2@0"])

    assert chosen.send == (fresh,)
    assert chosen.skipped == ((done, "already re-driven to registry.organisations/0@50"),)
    assert dlq.plan(Holding.of(DLQ, [done, fresh]), ["0@0"]).send == (done,)
    with pytest.raises(Refused, match="no dead letter at 2@5"):
        dlq.plan(holding, ["2@0", "2@5"])


def test_a_copy_keeps_its_own_headers_and_says_where_it_comes_from() -> None:
    first = letter(3, 4)
    # Dead-lettered again after an earlier re-drive, it carries that re-drive's header too.
    twice = replace(first, headers=(*first.headers, ("dlq_redriven_from", b"x.dlq/1@0")))

    assert dlq.redrive_headers(twice) == [
        *ORIGINAL,
        ("dlq_redriven_from", b"registry.organisations.dlq/3@4"),
    ]


def test_a_listing_as_json_decodes_the_value_when_it_is_text() -> None:
    text = letter(0, 0, value="Ymddiriedolaeth £5".encode())
    binary = letter(0, 1, value=b"\xff not json")
    holding = Holding.of(DLQ, [text, binary, marker(0, 2, text, "registry.organisations/0@9")])

    shown = json.loads(json.dumps(dlq.describe(text, holding)))
    raw = dlq.describe(binary, holding)

    assert shown["value"] == "Ymddiriedolaeth £5"
    assert shown["redriven_to"] == "registry.organisations/0@9"
    assert (shown["partition"], shown["offset"], shown["origin"]) == (0, 0, text.origin)
    assert (shown["consumer"], shown["group"], shown["attempts"]) == (
        "organisations",
        "exchange",
        1,
    )
    assert shown["timestamp"] == "2026-09-21T14:13:20Z"
    assert shown["key"] == "GB-CHC-1"
    assert shown["error"].startswith("NewerVersion")
    assert "value" not in raw and base64.b64decode(raw["value_base64"]) == b"\xff not json"
    assert raw["redriven_to"] is None


def test_a_listing_as_a_table_shortens_the_error_to_one_line() -> None:
    long = letter(1, 5, error="RuntimeError: the database\nwas away " + "x" * 200)
    holding = Holding.of(DLQ, [long])

    header, row = dlq.table(holding)

    assert header.split() == [
        *("OFFSET", "ORIGIN", "CONSUMER", "GROUP", "TRIES", "WHEN", "STATUS", "KEY", "ERROR")
    ]
    assert row.split()[:8] == [
        *("1@5", long.origin, "organisations", "exchange", "1"),
        *("2026-09-21T14:13:20Z", "to", "re-drive"),
    ]
    error = row[header.index("ERROR") :]
    assert error.startswith("RuntimeError: the database was away xxx") and error.endswith("...")
    assert len(error) == dlq.ERROR_WIDTH


def test_the_count_says_how_many_are_left_to_redrive() -> None:
    done = letter(0, 0)
    holding = Holding.of(
        DLQ, [done, letter(1, 0), marker(0, 1, done, "registry.organisations/0@3")], short=[2]
    )

    assert dlq.summary(holding) == (
        f"{DLQ}: 2 dead letters, 1 to re-drive "
        "(partitions 2 stopped short of their end offsets: read in part)"
    )
    assert dlq.summary(Holding.of("matching.matches.dlq", [])) == (
        "matching.matches.dlq: no dead letters"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["list", "registry.needs", "needs"], "unknown topic 'needs'"),
        (["redrive", "registry.organisation", "--all"], "unknown topic 'registry.organisation'"),
        (["redrive", "registry.needs"], "--offset (one or more) or --all"),
        (
            ["redrive", "registry.needs", "--all", "--offset", "3"],
            "--offset (one or more) or --all",
        ),
        (["redrive", "registry.needs", "--offset", "3", "--offset", "x@3"], "not an offset: 'x@3'"),
    ],
)
def test_a_bad_argument_is_named_before_the_broker_is_asked(
    args: list[str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens there: reaching for the broker would fail otherwise.
    monkeypatch.setenv("PSPX_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")

    result = CliRunner().invoke(app, ["dlq", *args])

    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert result.stdout == ""
