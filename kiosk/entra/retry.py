"""How long to wait before a retry: ``Retry-After`` (seconds or an HTTP date, capped), else
exponential backoff with full jitter."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from kiosk.config import GraphSettings


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class RetryPolicy:
    """How many times and how long to wait between attempts."""

    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    rng: random.Random | None = None

    @classmethod
    def from_settings(cls, graph: GraphSettings, rng: random.Random | None = None) -> RetryPolicy:
        return cls(
            max_retries=graph.max_retries,
            retry_after_cap=graph.retry_after_cap_seconds,
            rng=rng,
        )

    def delay(
        self, attempt: int, retry_after: str | None = None, now: datetime | None = None
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        honoured = parse_retry_after(retry_after, now)
        if honoured is not None:
            return min(honoured, self.retry_after_cap)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        rng = self.rng or random
        return rng.uniform(0.0, ceiling)  # full jitter
