"""X-Forwarded-For/-Proto, believed only from the proxy, with the connecting peer kept for the
single sign-on header check.

The proxy is a peer in MICROCRED_TRUSTED_PROXIES, or a connection over a Unix socket (its
folder's permissions decide who may connect); with MICROCRED_TRUSTED_PROXY_SECRET set, only if
it also sends that secret as X-Microcred-Proxy-Secret, so that no other process on the host
can pose as the proxy. Whether it did is kept in the scope (`FROM_PROXY`); the secret itself
goes no further.

uvicorn's own proxy-header handling replaces the client address with the forwarded one and
forgets the proxy's, so behind a proxy the trusted user header could never be told apart from
a client's forgery by address. This middleware does the same replacement but keeps the peer in
the scope (`PEER`); `serve` and deploy/ turn uvicorn's handling off in its favour.
"""

import hmac
import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import ASGIApp, Receive, Scope, Send

PEER = "microcred.peer"
FROM_PROXY = "microcred.from_proxy"
PROXY_SECRET_HEADER = b"x-microcred-proxy-secret"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(listed: str) -> tuple[Network, ...]:
    """Comma-separated IPs or CIDRs (a typo was refused when the settings were read)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False)
                 for entry in listed.split(",") if entry.strip())


def is_within(host: str | None, trusted: Iterable[Network]) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


class ForwardedHeaders:
    """Pure ASGI: rewrite the client and scheme from a trusted proxy's headers, keep the peer."""

    def __init__(self, app: ASGIApp, trusted_proxies: str,
                 proxy_secret: str | None = None) -> None:
        self.app = app
        self.trusted = networks(trusted_proxies)
        self.secret = proxy_secret.encode() if proxy_secret else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            scope[PEER] = peer[0] if peer else None
            scope[FROM_PROXY] = self._from_proxy(scope)
            if scope[FROM_PROXY]:
                self._rewrite(scope)
        await self.app(scope, receive, send)

    def _from_proxy(self, scope: Scope) -> bool:
        # uvicorn gives a Unix socket's connections no client address.
        via_socket = scope.get("client") is None
        if not via_socket and not (self.trusted and is_within(scope[PEER], self.trusted)):
            return False
        if self.secret is None:
            return True
        sent = [v for k, v in scope["headers"] if k == PROXY_SECRET_HEADER]
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != PROXY_SECRET_HEADER]
        return len(sent) == 1 and hmac.compare_digest(sent[0], self.secret)

    def _rewrite(self, scope: Scope) -> None:
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else proto.replace(
                        "http", "ws")
            elif name == b"x-forwarded-for":
                forwarded_for += [part.strip() for part in value.decode("latin-1").split(",")]
        # The client is the nearest address no trusted proxy accounts for: read from the right.
        for host in reversed([h for h in forwarded_for if h]):
            if not is_within(host, self.trusted):
                scope["client"] = (host, 0)
                break
