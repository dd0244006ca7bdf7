"""Documents generated from the code: the AsyncAPI description and the event catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from faststream.specification import AsyncAPI

from pspx.events import CATALOGUE, Envelope
from pspx.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def asyncapi() -> str:
    """One AsyncAPI document for every service's broker (publishers and subscribers)."""
    from services.exchange.app import build as exchange
    from services.matching.app import build as matching
    from services.registry.app import build as registry

    settings = Settings()
    brokers = [build(settings).state.runtime.kafka for build in (registry, exchange, matching)]
    spec = AsyncAPI(
        *brokers,
        title="PSP Exchange events",
        version="1",
        description="Integration events between the PSP Exchange services.",
    )
    return json.dumps(spec.to_specification().to_jsonable(), indent=2, sort_keys=True) + "\n"


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


def generated() -> dict[Path, str]:
    return {DOCS / "asyncapi.json": asyncapi(), DOCS / "events.md": catalogue()}


def write() -> list[Path]:
    written = []
    for path, text in generated().items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
