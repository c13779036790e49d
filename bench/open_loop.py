"""Offering HTTP requests at a fixed rate, open loop: each request is sent on its
schedule whether or not earlier ones have answered, so a slow server shows up as
latency (as it would to its users) instead of quietly lowering the rate offered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


class Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a load generator far
    cheaper per request than an HTTP client library, so the server is what is measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, request: bytes) -> int:
        """Send one whole request; its status, once the whole answer has been read."""
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


@dataclass(frozen=True)
class Answer:
    """How one request offered fared."""

    request: int  # its index in the requests offered
    status: int
    milliseconds: float  # from when it was due to be sent until its answer was read


async def offer(
    port: int,
    requests: Sequence[bytes],
    rate: float,
    seconds: float,
    connections: int = 32,
    warm_up: int = 300,
) -> list[Answer]:
    """Send ``requests`` in turn (round and round) to 127.0.0.1:``port`` at ``rate`` a
    second for ``seconds``, after ``warm_up`` of them one at a time (not counted)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))
    answers: list[Answer] = []

    async def one(i: int, scheduled: float) -> None:
        connection = await pool.get()  # waiting for a free connection counts as latency
        try:
            status = await connection.send(requests[i % len(requests)])
        finally:
            pool.put_nowait(connection)
        took = (time.perf_counter() - scheduled) * 1000
        answers.append(Answer(i % len(requests), status, took))

    for i in range(warm_up):
        await one(i, time.perf_counter())
    answers.clear()
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return answers
