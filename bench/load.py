"""A lean load generator: closed-loop clients, each on its own keep-alive HTTP/1.1 connection.

The benchmarks used httpx in one thread per client. Measured on the 2-core machine, httpx
costs a client about as much CPU per call as the server spends on the baseline route, so the
clients, sharing the two cores with the server, capped what they measured. Here every client
is a coroutine on one event loop, a request's bytes are built once, and an answer is read by
its Content-Length: tens of microseconds per call, so the server is what is measured.

    results = run(base_url, [client_one_calls, client_two_calls, ...], seconds=None)

Each client is an iterable of `Call`s, fired one after the other (the next one leaves when the
answer to the previous one has arrived); all clients start together. With `seconds`, each
stops at the deadline even if it has calls left.
"""

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    kind: str = "call"  # what the latency is counted under

    def wire(self, host: str) -> bytes:
        payload = json.dumps(self.body).encode() if self.body is not None else b""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}",
                 *(f"{name}: {value}" for name, value in self.headers.items())]
        if payload:
            lines.append("Content-Type: application/json")
        if payload or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Results:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)  # by Call.kind, seconds
    problems: list[str] = field(default_factory=list)

    def all_latencies(self) -> list[float]:
        return [value for values in self.latencies.values() for value in values]

    @property
    def calls(self) -> int:
        return sum(len(values) for values in self.latencies.values())


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ValueError("chunked answers are not read by this client")
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


async def _client(base: str, calls: Iterable[Call], results: Results, start: asyncio.Event,
                  deadline: list[float]) -> None:
    parts = urlsplit(base)
    host = parts.netloc
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    connection = Connection(reader, writer)
    try:
        # Warm the connection (and the server's route) before the clock starts.
        await connection.exchange(Call("/api/health", method="GET").wire(host))
        await start.wait()
        for call in calls:
            if time.perf_counter() >= deadline[0]:
                break
            request = call.wire(host)
            began = time.perf_counter()
            status, body = await connection.exchange(request)
            results.latencies.setdefault(call.kind, []).append(time.perf_counter() - began)
            if not 200 <= status < 300:
                results.problems.append(
                    f"{status} on {call.method} {call.path}: {body[:200].decode(errors='replace')}")
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        results.problems.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


async def _run(base: str, clients: list[Iterable[Call]], seconds: float | None) -> Results:
    results = Results()
    start = asyncio.Event()
    deadline = [float("inf")]
    tasks = [asyncio.create_task(_client(base, calls, results, start, deadline))
             for calls in clients]
    await asyncio.sleep(0.2)  # every client connected and warmed
    began = time.perf_counter()
    if seconds is not None:
        deadline[0] = began + seconds
    start.set()
    await asyncio.gather(*tasks)
    results.seconds = time.perf_counter() - began
    return results


def run(base: str, clients: list[Iterable[Call]], seconds: float | None = None) -> Results:
    """Drive the clients against `base` (http://host:port) until done or `seconds` pass."""
    return asyncio.run(_run(base, clients, seconds))
