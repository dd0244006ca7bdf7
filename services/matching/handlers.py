"""Event subscribers: rebuild the index from the log, then follow it live."""

from __future__ import annotations

import asyncio
import json
import logging

from aiokafka import AIOKafkaConsumer

from pspx import kafka, topics
from pspx.events import Envelope
from pspx.logs import current_correlation_id
from pspx.runtime import Runtime
from services.matching.index import MatchingIndex
from services.matching.store import MatchingStore

log = logging.getLogger(__name__)

CONSUMES = (topics.ORGANISATIONS, topics.NEEDS, topics.PRACTICES)
IDLE_MS = 1500  # a replay is complete when the log has been quiet this long


class Handlers:
    def __init__(self, runtime: Runtime, index: MatchingIndex, store: MatchingStore) -> None:
        self.runtime = runtime
        self.index = index
        self.store = store
        self.loaded = asyncio.Event()

    def subscribe(self) -> None:
        # No consumer group: every replica reads the whole log from the start and
        # holds the full index; the version guard skips what the load applied.
        kafka.subscribe(
            self.runtime.kafka,
            *CONSUMES,
            group=None,
            handle=self.on_event,
            settings=self.runtime.settings,
            consumer="matching",
        )

    async def on_event(self, envelope: Envelope) -> None:
        await self.loaded.wait()
        outgoing = self.index.apply(envelope)
        if outgoing:
            await self.store.publish(outgoing, envelope.correlation_id)

    async def load(self) -> None:
        """Read every topic from the beginning, build the index in one fit."""
        envelopes = await read_log(self.runtime.settings.kafka_bootstrap)
        outgoing = await asyncio.to_thread(self.index.load, envelopes)
        published = await self.store.publish(outgoing, current_correlation_id())
        self.loaded.set()
        log.info(
            "index rebuilt from the log",
            extra={
                "fields": {
                    "events": len(envelopes),
                    "partners": len(self.index.partners),
                    "practices": len(self.index.practices),
                    "open_needs": len(self.index.needs),
                    "published": published,
                }
            },
        )

    async def refit_when_due(self, every_s: float = 1.0) -> None:
        """Refresh vocabulary and IDF in a worker thread; queries never wait for it."""
        while True:
            await asyncio.sleep(every_s)
            for engine in (self.index.partners, self.index.practices):
                if engine.needs_refit:
                    await asyncio.to_thread(engine.refit)


async def read_log(bootstrap: str) -> list[Envelope]:
    consumer = AIOKafkaConsumer(
        *CONSUMES,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    envelopes: list[Envelope] = []
    try:
        while batch := await consumer.getmany(timeout_ms=IDLE_MS, max_records=5000):
            for records in batch.values():
                for record in records:
                    try:
                        envelopes.append(Envelope.model_validate(json.loads(record.value)))
                    except (
                        ValueError
                    ):  # not JSON, not an envelope (ValidationError is a ValueError)
                        # The live subscriber sends it to the dead-letter topic.
                        continue
    finally:
        await consumer.stop()
    return envelopes
