#!/usr/bin/env python3
"""A TCP forwarder that adds latency, for bench/bootstrap.sh: a login node far away.

    delay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS STATS_FILE

Every chunk read from one side is written to the other DELAY_MS later, in order, while reading
goes on (a link with latency, not a stop-and-wait): with DELAY_MS=50 each way, a round trip
costs 100 ms more. Used where the kernel has no `netem` qdisc.

It counts what crosses it and rewrites STATS_FILE (JSON) after every change:
  connections  TCP connections opened through it;
  turns        times a client spoke after the server had answered (its last bytes went the
               other way): each is a round trip the client waited for;
  bytes_up / bytes_down.
SIGTERM stops it.
"""
import asyncio
import json
import os
import signal
import sys
import time

listen_host, listen_port, target_host, target_port, delay_ms, stats_file = sys.argv[1:7]
DELAY = int(delay_ms) / 1000.0
stats = {"connections": 0, "turns": 0, "bytes_up": 0, "bytes_down": 0}


def save():
    tmp = stats_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, stats_file)


async def pump(reader, writer, up, state):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if up:
                stats["bytes_up"] += len(data)
                if state["last"] == "down":
                    stats["turns"] += 1
                state["last"] = "up"
            else:
                stats["bytes_down"] += len(data)
                state["last"] = "down"
            await queue.put((time.monotonic() + DELAY, data))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def handle(client_reader, client_writer):
    stats["connections"] += 1
    save()
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, int(target_port))
    except OSError:
        client_writer.close()
        return
    # The client's first bytes count as a round trip too (the SYN/SYN-ACK it waited for).
    state = {"last": "down"}
    await asyncio.gather(
        pump(client_reader, server_writer, True, state),
        pump(server_reader, client_writer, False, state),
    )
    for w in (client_writer, server_writer):
        try:
            w.close()
        except OSError:
            pass
    save()


async def main():
    server = await asyncio.start_server(handle, listen_host, int(listen_port))
    save()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    save()
    # Connections still open are simply dropped, as a link going down drops them.
    os._exit(0)


asyncio.run(main())
