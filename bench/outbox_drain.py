"""Outbox drain rate: one reused SMTP connection per batch against a connection per message.

Run by hand from the repository root:

    .venv/bin/python bench/outbox_drain.py                  # 2,000 messages each way
    .venv/bin/python bench/outbox_drain.py --messages 500   # quicker

It starts aiosmtpd on 127.0.0.1 in a child process (so the server does not share the
sender's interpreter), queues the messages in a fresh SQLite database (or the one given by
--database-url, which it empties of outbox rows first), then drains them with the real
sender twice in the same run: first with one connection per batch (each message its own MAIL,
RCPT and DATA on it), then with the baseline, a new connection (connect, EHLO, MAIL, RCPT,
DATA, QUIT) for every message. Every message's claim, audit entry and status update are part
of the measured time.
Targets: at least 500 messages/s, and at least 5x the baseline.
"""

import argparse
import asyncio
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, delete  # noqa: E402
from sqlmodel import Session  # noqa: E402

from notifications.compose import enqueue
from notifications.models import OutboxMessage
from notifications.sender import Sender
from notifications.smtp import SMTPTransport
from plumbing.database import build_engine  # noqa: E402
from plumbing.migrate import upgrade  # noqa: E402
from plumbing.retry import DeliveryPolicy
from plumbing.settings import Settings  # noqa: E402


def serve_smtp(port: int, received: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def queue(engine: Engine, settings: Settings, count: int) -> None:
    """Queue `count` real rendered messages (a digest each), as the scheduler would."""
    items = [{"title": f"Proposal {n}", "stage": "department review", "days": n,
              "link": f"http://127.0.0.1:8000/proposals/{n}"} for n in range(3)]
    with Session(engine) as session:
        for n in range(count):
            enqueue(session, event="digest", proposal=None, recipients=[f"p{n}@arizona.edu"],
                    subject="[Micro-credential] Daily digest: 3 proposals wait for your action",
                    context={"items": items}, settings=settings)
        session.commit()


def drain(engine: Engine, settings: Settings, *, reuse: bool, batch_size: int) -> float:
    sender = Sender(engine, settings, policy=DeliveryPolicy(batch_size=batch_size),
                    transport=lambda: SMTPTransport(settings, reuse=reuse))
    started = time.perf_counter()
    report = asyncio.run(sender.drain())
    elapsed = time.perf_counter() - started
    if report.sent == 0 or report.retried or report.dead:
        raise SystemExit(f"drain failed: {report.sent} sent, {report.retried} retried, "
                         f"{report.dead} dead")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench-outbox.db"
    engine = build_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        session.execute(delete(OutboxMessage))
        session.commit()

    port = free_port()
    received = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve_smtp, args=(port, received, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(15):
            raise SystemExit("aiosmtpd did not start")
        settings = Settings(_env_file=None, database_url=url,  # type: ignore[call-arg]
                            smtp_host="127.0.0.1", smtp_port=port)
        results = {}
        for mode, reuse in (("reused connection", True), ("connection per message", False)):
            queue(engine, settings, args.messages)
            before = received.value
            elapsed = drain(engine, settings, reuse=reuse, batch_size=args.batch_size)
            delivered = received.value - before
            if delivered != args.messages:
                raise SystemExit(f"{mode}: the server got {delivered} of {args.messages}")
            results[mode] = args.messages / elapsed
            print(f"{mode:24} {args.messages} messages in {elapsed:6.2f} s: "
                  f"{results[mode]:7.0f} messages/s")
    finally:
        server.terminate()
        server.join(5)
    ratio = results["reused connection"] / results["connection per message"]
    print(f"ratio {ratio:.1f}x (targets: >= 500 messages/s, >= 5x)")
    print(json.dumps({"messages": args.messages, "database": engine.dialect.name,
                      "reused_per_s": round(results["reused connection"]),
                      "per_message_per_s": round(results["connection per message"]),
                      "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()
