"""What `microcred check-config` says of a configuration: the settings a deployment must decide
and has not, those still holding the University of Arizona's values, and those that are unsafe."""

from dataclasses import dataclass
from ipaddress import ip_network
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from plumbing.secret_key import HOW, key_problem
from plumbing.settings import Settings

Kind = Literal["unset", "default", "unsafe"]
SHORTEST_KEY = 32
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# What the example configuration's placeholders contain.
EXAMPLE_MARKS = ("change-me", "example.edu", "example.com", "example.org", "Example University")
# Keys and passwords left at an example value are unsafe, not merely undecided.
SECRETS = {"secret_key", "database_url", "inbound_secret", "metrics_token",
           "trusted_proxy_secret", "smtp_password"}


@dataclass(frozen=True)
class Finding:
    kind: Kind
    setting: str  # the field name; shown as MICROCRED_<NAME>
    message: str

    def line(self) -> str:
        return f"{self.kind:<8} MICROCRED_{self.setting.upper()}: {self.message}"


# What a deployment must decide, and what happens while it has not.
MUST_DECIDE = {
    "database_url": "a SQLite file ./microcred.db in the working directory",
    "secret_key": "serve, worker and inbound-smtp refuse to start (serve --demo keeps its own)",
    "base_url": "links in emails and credentials point to http://127.0.0.1:8000",
    "smtp_host": "no email leaves the machine: it lands in the dev mailbox",
    "mail_from": "mail goes out from microcred@localhost",
    "reply_domain": "email replies go to reply+...@localhost, which no one receives",
}
# Values that are the University of Arizona's, right only there.
ARIZONA = {
    "badge_office_email": "badge@arizona.edu, the University of Arizona's badge office",
    "issuer_name": "the University of Arizona issues the badges",
    "issuer_url": "https://www.arizona.edu is the issuer's address",
    "time_zone": "America/Phoenix decides when the day (and the digest hour) begins",
}


def findings(settings: Settings) -> list[Finding]:
    """Every finding, unset first, then defaults, then unsafe values."""
    chosen = settings.model_fields_set
    found = [Finding("unset", name, what) for name, what in MUST_DECIDE.items()
             if name not in chosen]
    found += [Finding("unset", name, "still the example's value (deploy/microcred.env)")
              for name in sorted(chosen) if name not in SECRETS and is_example(settings, name)]
    found += [Finding("default", name, what) for name, what in ARIZONA.items()
              if name not in chosen]
    return found + unsafe(settings)


def is_example(settings: Settings, name: str) -> bool:
    value = getattr(settings, name)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return isinstance(text, str) and any(mark in text for mark in EXAMPLE_MARKS)


def unsafe(settings: Settings) -> list[Finding]:
    found = []
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    if key is not None and "change-me" in key:
        found.append(Finding("unsafe", "secret_key", f"still the example's value; {HOW}"))
    elif key is not None and (problem := key_problem(key)):
        found.append(Finding("unsafe", "secret_key", problem.removeprefix(
            "MICROCRED_SECRET_KEY ") + f"; {HOW}"))
    if any(len(k) < SHORTEST_KEY for k in settings.verifying_keys()[1:]):
        found.append(Finding("unsafe", "old_secret_keys",
                             f"a key shorter than {SHORTEST_KEY} characters"))
    if "change-me" in settings.database_url:
        found.append(Finding("unsafe", "database_url", "its password is the example's"))
    if settings.demo_sign_in:
        found.append(Finding("unsafe", "demo_sign_in",
                             "the sign-in page lets anyone sign in as anyone"))
    if settings.trusted_user_header and settings.trusted_proxy_secret is None:
        found.append(Finding("unsafe", "trusted_user_header", "set without "
                             "MICROCRED_TRUSTED_PROXY_SECRET: any process reaching a web process "
                             "could sign in as anyone (the web processes refuse to start)"))
    base = urlsplit(settings.base_url)
    if base.scheme != "https" and (base.hostname or "") not in LOCAL_HOSTS:
        found.append(Finding("unsafe", "base_url", "not https: cookies are not Secure and "
                             "sessions and sign-in links cross the network in clear"))
    for entry in filter(None, (e.strip() for e in settings.trusted_proxies.split(","))):
        if ip_network(entry, strict=False).prefixlen == 0:
            found.append(Finding("unsafe", "trusted_proxies", f"{entry} trusts every address "
                                 "to forward headers and name the signed-in user"))
    if settings.smtp_password and not settings.smtp_starttls and settings.smtp_port != 465:
        found.append(Finding("unsafe", "smtp_password",
                             "sent without STARTTLS; set MICROCRED_SMTP_STARTTLS=true"))
    for name in sorted(SECRETS - {"secret_key", "database_url"}):
        value = getattr(settings, name, None)
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(secret, str) and "change-me" in secret:
            found.append(Finding("unsafe", name, "still the example's value"))
        elif isinstance(secret, str) and secret and name != "smtp_password" \
                and len(secret) < 16:
            found.append(Finding("unsafe", name, "shorter than 16 characters; easy to guess"))
    return found


def settings_problems(error: ValidationError) -> str:
    """A settings error as lines naming each bad MICROCRED_ variable."""
    return "; ".join(
        f"MICROCRED_{str(problem['loc'][0]).upper()}: {problem['msg']}" if problem["loc"]
        else problem["msg"] for problem in error.errors())
