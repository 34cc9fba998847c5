"""The inbound SMTP listener for email replies (aiosmtpd).

It accepts mail only for `reply+<token>@MICROCRED_REPLY_DOMAIN` (never a relay) and hands each
message to `notifications.inbound.receive`, exactly as the webhook does.
"""

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine

from notifications.inbound.policy import REPLY_ADDRESS
from notifications.inbound.receive import receive
from plumbing.settings import Settings

log = logging.getLogger(__name__)


class ReplyHandler:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        match = REPLY_ADDRESS.fullmatch(address.strip())
        if match is None or match.group(2).lower() != self.settings.reply_domain.lower():
            return "550 5.1.1 not a reply address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or envelope.content or b"")
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        try:
            received = await asyncio.to_thread(receive, self.engine, raw, self.settings,
                                               envelope_from=envelope.mail_from or "",
                                               envelope_to=list(envelope.rcpt_tos), peer=peer)
        except Exception:
            log.exception("an inbound reply could not be handled; the sender's server retries")
            return "451 4.3.0 please try again later"
        if received.reason == "unreadable":
            # Refused for good: a 4xx would have the sending server retry it forever.
            return "554 5.6.0 too many parts or nested too deep; not accepted"
        if received.reason == "address_rate_limited":
            return "450 4.7.1 too many messages from your address; try again later"
        return "250 2.0.0 received"


async def start(engine: Engine, settings: Settings, host: str, port: int) -> asyncio.Server:
    # aiosmtpd logs each recipient at INFO, and a recipient here holds an action token.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = ReplyHandler(engine, settings)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname=settings.reply_domain,
                     data_size_limit=settings.inbound_max_bytes, enable_SMTPUTF8=True),
        host=host, port=port)


@asynccontextmanager
async def in_background(engine: Engine, settings: Settings, host: str, port: int
                        ) -> AsyncIterator[asyncio.Server]:
    server = await start(engine, settings, host, port)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


def run_forever(engine: Engine, settings: Settings, host: str, port: int) -> None:
    """Listen until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with in_background(engine, settings, host, port):
            await stop.wait()

    asyncio.run(main())
