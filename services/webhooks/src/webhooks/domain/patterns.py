"""Event-type patterns: exact types or wildcards (``*``, ``finance.*``, ``finance.emergency_repair.*``).

A ``*`` segment matches exactly one segment, except as the last segment where it matches one or more. The
service's own operational events (``webhooks.*``) are matched only by patterns that name ``webhooks`` explicitly,
so a catch-all ``*`` never feeds the webhooks service's events back to receivers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEGMENT_RE = re.compile(r"^(\*|[a-z][a-z0-9_]{0,63})$")
MAX_PATTERN_LENGTH = 200
MAX_PATTERNS = 50
OWN_PREFIX = "webhooks"


class InvalidPattern(ValueError):
    pass


def validate_pattern(pattern: str) -> str:
    """Return the pattern when it is well formed, else raise :class:`InvalidPattern`."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"pattern must be 1-{MAX_PATTERN_LENGTH} characters")
    segments = pattern.split(".")
    if len(segments) > 6:
        raise InvalidPattern("pattern has too many segments")
    for segment in segments:
        if not SEGMENT_RE.match(segment):
            raise InvalidPattern(f"segment {segment!r} is neither '*' nor lower-case letters, digits and '_'")
    if segments[-1] != "*" and len(segments) != 4 and "*" not in segments:
        raise InvalidPattern("an exact event type is <service>.<aggregate>.<event>.v<N>")
    return pattern


def normalise_patterns(patterns: Iterable[str]) -> list[str]:
    """Validate, de-duplicate and sort a subscription's patterns (1..MAX_PATTERNS)."""
    unique = sorted({validate_pattern(p) for p in patterns})
    if not unique:
        raise InvalidPattern("at least one event type pattern is required")
    if len(unique) > MAX_PATTERNS:
        raise InvalidPattern(f"at most {MAX_PATTERNS} patterns")
    return unique


def matches(pattern: str, event_type: str) -> bool:
    p = pattern.split(".")
    t = event_type.split(".")
    if t[0] == OWN_PREFIX and p[0] != OWN_PREFIX:
        return False
    for i, segment in enumerate(p):
        last = i == len(p) - 1
        if segment == "*" and last:
            return len(t) > i
        if i >= len(t):
            return False
        if segment != "*" and segment != t[i]:
            return False
    return len(t) == len(p)


def matches_any(patterns: Iterable[str], event_type: str) -> bool:
    return any(matches(p, event_type) for p in patterns)
