"""Retrying deliveries to other systems (the SMTP server, Canvas Credentials): backoff with
jitter, attempt limits and leases, from settings; and the clock the workers read."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from plumbing.settings import Settings

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry and lease timings; tests pass small ones so nothing sleeps for real."""

    max_attempts: int = 12
    backoff_seconds: float = 60
    backoff_max_seconds: float = 3600
    # The delay is drawn from [(1 - jitter) * d, d], so failed batches do not retry in step.
    jitter: float = 0.5
    lease_seconds: float = 60
    batch_size: int = 100
    smtp_timeout_seconds: float = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> "DeliveryPolicy":
        return cls(
            max_attempts=settings.email_max_attempts,
            backoff_seconds=settings.email_backoff_seconds,
            backoff_max_seconds=settings.email_backoff_max_seconds,
            lease_seconds=settings.email_lease_seconds,
            batch_size=settings.email_batch_size,
            smtp_timeout_seconds=settings.smtp_timeout_seconds,
        )

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the given number of failed attempts."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(attempts - 1, 0))
        return ceiling * (1 - self.jitter * rng.random())
