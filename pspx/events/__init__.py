"""Integration events: one envelope, one catalogue, one module per producing service.

Importing this package registers every event type, so ``Envelope.event()`` can
turn any envelope read off a topic back into its typed payload.
"""

from pspx.events import exchange, matching, registry  # noqa: F401  (registers the catalogue)
from pspx.events.base import (
    CATALOGUE,
    Count,
    Envelope,
    Event,
    Measure,
    Money,
    NewerVersion,
    Payload,
    UnknownEventType,
    new_envelope,
)

__all__ = [
    "CATALOGUE",
    "Count",
    "Envelope",
    "Event",
    "Measure",
    "Money",
    "NewerVersion",
    "Payload",
    "UnknownEventType",
    "new_envelope",
]
