"""The gateway's hub of live events: a page's cursor taken when it renders catches what
happens before its live updates connect, and nothing from before it rendered."""

from __future__ import annotations

import asyncio

from gateway.live import Hub
from pspx.events import new_envelope
from pspx.events.matching import MatchFound


def publish(hub: Hub, need_id: str, offset: int) -> None:
    event = MatchFound(
        need_id=need_id,
        commissioner_id="GB-LAE-MAN",
        partner_id="GB-CHC-1",
        score=0.5,
        terms=[],
        trigger="partner",
    )
    envelope = new_envelope(event, aggregate_id=need_id, aggregate_version=1, source="test")
    hub.publish([(envelope, event)], {str(envelope.event_id): ("matching.matches/0", offset)})


def test_a_cursor_taken_at_render_time_misses_nothing_after_it() -> None:
    async def scenario() -> list[str]:
        hub = Hub(window_s=60)
        publish(hub, "before", 0)
        rendered = hub.cursor()
        publish(hub, "while-loading", 1)  # before the page's live updates connect
        heard: list[str] = []

        async def listen() -> None:
            async for delivery in hub.listen(rendered):
                heard.append(delivery.event.need_id)  # type: ignore[attr-defined]
                if len(heard) == 2:
                    return

        listening = asyncio.create_task(listen())
        await asyncio.sleep(0)
        publish(hub, "after", 2)
        await asyncio.wait_for(listening, 5)
        return heard

    assert asyncio.run(scenario()) == ["while-loading", "after"]
