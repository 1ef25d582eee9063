#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Python rivals of examples/echo_server, for tools/bench/echo.py.

    echo_asyncio.py streams|protocol asyncio|uvloop PORT

streams:  asyncio.start_server with the handler of echo_server.c's header
          (read 4096, write, drain), the program echo_server is a twin of.
protocol: an asyncio.Protocol whose data_received writes the data back:
          the fastest plain-asyncio echo server.
uvloop:   the same code on uvloop's event loop (Debian python3-uvloop).
Both set TCP_NODELAY (asyncio and uvloop do by default for TCP).  SIGTERM
or SIGINT stop the server.
"""
import asyncio
import signal
import sys


async def handle(reader, writer):
    while True:
        data = await reader.read(4096)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(mode, port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(None))
    if mode == "streams":
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    else:
        server = await loop.create_server(Echo, "127.0.0.1", port, backlog=4096)
    print("echo_asyncio: %s on %s listening on 127.0.0.1:%d"
          % (mode, type(loop).__module__.split(".")[0], port), flush=True)
    await stop
    server.close()


def main():
    mode, flavour, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode not in ("streams", "protocol") or flavour not in ("asyncio", "uvloop"):
        sys.exit("usage: echo_asyncio.py streams|protocol asyncio|uvloop PORT")
    if flavour == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(mode, port))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
