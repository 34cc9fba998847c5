"""Settings from MICROCRED_* environment variables and a .env file."""

import ipaddress
import secrets
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(ValueError):
    """Settings that cannot work together; the message names them."""


# Without a configured key (tests, library use) sessions are signed with a key of this process
# alone, never a constant: the commands that start services refuse to run without a real one.
PROCESS_KEY = secrets.token_bytes(32)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MICROCRED_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./microcred.db"
    # Signs sessions and CSRF tokens. The commands that start services refuse to run without
    # a strong one (plumbing/secret_key.py); library use without one signs with a key made
    # for the process alone.
    secret_key: SecretStr | None = None
    # Earlier keys, comma-separated: what they signed still verifies while a key is rotated.
    old_secret_keys: SecretStr = SecretStr("")
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Micro-credentials <microcred@localhost>"
    badge_office_email: str = "badge@arizona.edu"
    inbound_secret: SecretStr | None = None
    reply_domain: str = "localhost"
    # SQLite waits this long for the write lock before answering 503.
    sqlite_busy_timeout_ms: int = 30_000
    database_pool_size: int = 10
    # The rubric a new review round is scored against (its newest version that day).
    rubric_key: str = "microcredential"
    # A folder of the office's own rubric files, read beside the shipped ones.
    rubric_dir: str | None = None
    reviewers_from_own_department: bool = False
    # Email: reminders, escalation and the outbox sender (notifications/).
    reminder_days: float = 7
    escalation_days: float = 14
    digest_hour: int = 7  # hour (in time_zone) after which the daily digests go out
    # The office's time zone (IANA name): when its day, and so its digest hour, begins.
    time_zone: str = "America/Phoenix"
    smtp_timeout_seconds: float = 30
    email_max_attempts: int = 12
    email_backoff_seconds: float = 60
    email_backoff_max_seconds: float = 3600
    # How long a claimed batch is a worker's: each message is marked sent as its 250 arrives,
    # so only what a dead worker claimed but did not send waits this long.
    email_lease_seconds: float = 60
    email_batch_size: int = 100
    email_poll_seconds: float = 2
    scheduler_interval_seconds: float = 300
    # Run the sender and the scheduler inside each web process (`serve` always does).
    email_worker_in_web: bool = False
    # Badge designs and publishing (workflow/credentials/).
    max_image_bytes: int = 2 * 1024 * 1024
    issuer_name: str = "The University of Arizona"
    issuer_url: str = "https://www.arizona.edu"
    issuer_email: str | None = None
    # Canvas Credentials (Badgr API v2): all three set, publishing creates the BadgeClass there.
    canvas_credentials_url: str | None = None
    canvas_credentials_token: SecretStr | None = None
    canvas_credentials_issuer_id: str | None = None
    canvas_timeout_seconds: float = 30
    # The committee's meetings (workflow/meetings/): a proposal entering rubric review goes on
    # the next meeting at least this many days away; decisions are due this long after it.
    meeting_lead_days: float = 7
    meeting_decision_days: float = 14
    # Extra recipients by event and proposal facts (notifications/routing.py); unset: the
    # shipped rules.
    routing_file: str | None = None
    # Periodic review of published credentials (workflow/credentials/review_dates.py).
    credential_review_years: int = 3
    credential_review_notice_days: int = 60
    # Attachments (workflow/attachments/): the largest file, and a folder to keep them in
    # (unset: in the database).
    max_attachment_bytes: int = 10 * 1024 * 1024
    attachment_dir: str | None = None
    # Awards: the university's Ed25519 signing key (PEM); the embedded SQLite default keeps
    # one beside its database when this is not set.
    signing_key_file: str | None = None
    # Co-authors who are no users yet must have an address of these comma-separated domains;
    # empty: the domains of existing users (workflow/proposals/co_authors.py).
    allowed_email_domains: str = ""
    # Email actions (notifications/inbound/).
    action_token_days: float = 14
    # `serve` also listens for email replies over SMTP on this port when it is set.
    inbound_smtp_port: int | None = None
    inbound_smtp_host: str = "127.0.0.1"
    # Inbound messages per reply token within the window before the rest are dropped, and per
    # connecting address (a relay forwards everyone's replies: size it for all of them).
    inbound_rate_limit: int = 10
    inbound_address_rate_limit: int = 200
    inbound_rate_window_seconds: float = 600
    inbound_max_bytes: int = 1_000_000
    # A reply acts only when the receiving server's Authentication-Results, from one of these
    # comma-separated authserv-ids (empty: the reply domain), vouch for its sender.
    inbound_require_auth: bool = True
    inbound_authserv_id: str = ""
    # Refusals of unauthenticated callers one address may cause within the inbound window
    # before it is turned away (429, or 450 over SMTP).
    refusal_limit: int = 20

    # Web pages (api/pages): sign-in links, sessions, single sign-on, demo sign-in.
    sign_in_link_minutes: int = 15
    session_hours: float = 12
    # The header a single sign-on proxy sets to the user's email, trusted only from these
    # comma-separated IPs or CIDRs.
    trusted_user_header: str | None = None
    trusted_proxies: str = ""
    # The proxy sends it as X-Microcred-Proxy-Secret; the user header counts only with it.
    trusted_proxy_secret: SecretStr | None = None
    # One-click sign-in as any user on the sign-in page: `serve --demo` turns it on.
    demo_sign_in: bool = False

    # Operations (plumbing/logs.py, api/routes/operations.py).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # When set, GET /metrics answers only `Authorization: Bearer <this>`.
    metrics_token: SecretStr | None = None

    def verifying_keys(self) -> list[bytes]:
        """The key that signs, then the earlier ones that still verify."""
        current = (PROCESS_KEY if self.secret_key is None
                   else self.secret_key.get_secret_value().encode())
        old = [k.strip() for k in self.old_secret_keys.get_secret_value().split(",")]
        return [current] + [k.encode() for k in old if k]

    @property
    def canvas_configured(self) -> bool:
        return bool(self.canvas_credentials_url and self.canvas_credentials_token
                    and self.canvas_credentials_issuer_id)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (an IANA name, such as "
                             "America/Phoenix)") from error
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                ipaddress.ip_network(entry.strip(), strict=False)  # a typo stops start-up
        return value


@lru_cache
def get_settings() -> Settings:
    """Read the settings once; tests clear this cache or override the dependency."""
    return Settings()
