"""Documents generated from the code: the AsyncAPI description, the event catalogue and
the architecture page's table of services (from the manifest)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from pspx.events import CATALOGUE, Envelope
from pspx.settings import Settings
from stack import manifest

DOCS = Path(__file__).resolve().parent.parent / "docs"
ARCHITECTURE = DOCS / "architecture.md"
BEGIN = "<!-- services: generated from stack/manifest.py by `pspx docs` -->"
END = "<!-- end of services -->"


def asyncapi() -> str:
    """One AsyncAPI document for every service's broker (publishers and subscribers)."""
    settings = Settings()
    # The gateway publishes nothing and only follows: add_followers describes it.
    brokers = [
        manifest.build(s.name, settings).state.runtime.kafka
        for s in manifest.SERVICES
        if s.produces or any(sub.group for sub in s.consumes)
    ]
    spec = AsyncAPI(
        *brokers,
        title="PSP Exchange events",
        version="1",
        description="Integration events between the PSP Exchange services.",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    add_followers(document)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def add_followers(document: dict[str, Any]) -> None:
    """Followers (subscriptions with no consumer group, ``pspx.follow``) read with their own
    client rather than a FastStream subscriber: describe them from the manifest, each with
    the message its topic's producer declares."""
    producer_of = {t: s.name for s in manifest.SERVICES for t in s.produces}
    for service in manifest.SERVICES:
        for sub in service.consumes:
            if sub.group is not None:
                continue  # a FastStream subscriber: already described
            for topic in sub.topics:
                key = f"{service.name}.{sub.name}:{topic}"
                message = f"{key}:SubscribeMessage"
                document["components"]["messages"][message] = document["components"]["messages"][
                    f"{producer_of[topic]}:{topic}:Message"
                ]
                document["channels"][key] = {
                    "address": topic,
                    "bindings": {"kafka": {"bindingVersion": "0.4.0", "topic": topic}},
                    "description": (
                        f"Followed with no consumer group from the {sub.start}: every replica "
                        "reads the whole topic, in batches."
                    ),
                    "messages": {"SubscribeMessage": {"$ref": f"#/components/messages/{message}"}},
                    "servers": [{"$ref": "#/servers/development"}],
                }
                document["operations"][f"{key}Subscribe"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{key}"},
                    "messages": [{"$ref": f"#/channels/{key}/messages/SubscribeMessage"}],
                }


def catalogue() -> str:
    lines = [
        "# Event catalogue",
        "",
        "Generated from `pspx/events/` by `pspx docs`; do not edit by hand.",
        "",
        "Every event travels in one envelope (JSON), keyed by its aggregate id, with",
        "`event_id`, `event_type`, `version` and `correlation_id` also in the headers.",
        "",
        "| event type | version | topic | payload |",
        "| --- | --- | --- | --- |",
    ]
    for name, kind in sorted(CATALOGUE.items(), key=lambda kv: (kv[1].topic, kv[0])):
        fields = ", ".join(f"`{f}`" for f in kind.model_fields)
        lines.append(f"| `{name}` | {kind.version} | `{kind.topic}` | {fields} |")
    lines += ["", "## Envelope schema", "", "```json"]
    lines.append(json.dumps(Envelope.model_json_schema(), indent=2, sort_keys=True))
    lines += ["```", ""]
    for name, kind in sorted(CATALOGUE.items()):
        lines += [f"## `{name}` payload", "", "```json"]
        lines.append(
            json.dumps(kind.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
        )
        lines += ["```", ""]
    return "\n".join(lines)


def services_table() -> str:
    def code(names: tuple[str, ...]) -> str:
        return ", ".join(f"`{n}`" for n in names) or "nothing"

    lines = [
        "| service | does | port setting | publishes | consumes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in manifest.SERVICES:
        reads = "; ".join(
            f"{code(sub.topics)} ({f'group `{sub.group}`' if sub.group else 'no group'}, "
            f"from the {sub.start})"
            for sub in s.consumes
        )
        lines.append(
            f"| {s.name} | {s.summary} | `PSPX_{s.port_setting.upper()}` | "
            f"{code(s.produces)} | {reads or 'nothing'} |"
        )
    return "\n".join(lines)


def architecture() -> str:
    """docs/architecture.md with its table of services made anew from the manifest."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{services_table()}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{ARCHITECTURE} has no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: block, text)


def generated() -> dict[Path, str]:
    return {
        DOCS / "asyncapi.json": asyncapi(),
        DOCS / "events.md": catalogue(),
        ARCHITECTURE: architecture(),
        DOCS / "schema.graphql": graphql_sdl(),
    }


def graphql_sdl() -> str:
    """The gateway's schema, for clients and reviewers who do not run it."""
    from gateway.schema import sdl

    return sdl()


def write() -> list[Path]:
    written = []
    for path, text in generated().items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
