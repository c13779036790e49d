"""Domain model: aggregates and their nested, past-tense events.

Every aggregate id is derived (UUIDv5) from a natural key, so the same fact reported
twice maps to the same aggregate and the database's uniqueness constraint is the final
guard against doubling.
"""

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d3c3e-9c1e-5b7a-a0a4-5d2b1f1e7c10")


def natural_id(kind: str, *parts: str) -> UUID:
    """A stable aggregate id for a natural key (kind and parts, newline-joined)."""
    return uuid5(NAMESPACE, "\n".join((kind, *parts)))
