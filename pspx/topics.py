"""Topic names: one per aggregate stream, keyed by aggregate id."""

ORGANISATIONS = "registry.organisations"
NEEDS = "registry.needs"
PARTNERSHIPS = "registry.partnerships"
PRACTICES = "exchange.practices"
MATCHES = "matching.matches"

ALL = (ORGANISATIONS, NEEDS, PARTNERSHIPS, PRACTICES, MATCHES)
PARTITIONS = 4


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"
