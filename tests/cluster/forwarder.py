#!/usr/bin/env python3
"""A TCP forwarder for hpcinit's tests: the network between a laptop and the login node, which a
test can freeze. `forwarder.py LISTEN_PORT TARGET_PORT DIR` listens on 127.0.0.1:LISTEN_PORT and
relays each connection to 127.0.0.1:TARGET_PORT in a process of its own, whose PID it writes to
DIR/conn-PID; stopping that process (SIGSTOP) freezes that one connection the way a laptop's
sleep or a changed network does: its sockets stay open, no byte passes, and ssh's master still
answers `ssh -O check`. New connections get new processes and pass. The test stops the whole
process group when it ends."""

import os
import select
import signal
import socket
import sys


def relay(a, b):
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


def main():
    listen, target, state = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(64)
    with open(os.path.join(state, "ready"), "w") as f:
        f.write(str(os.getpid()))
    while True:
        client, _ = srv.accept()
        pid = os.fork()
        if pid == 0:
            srv.close()
            with open(os.path.join(state, f"conn-{os.getpid()}"), "w"):
                pass
            upstream = socket.create_connection(("127.0.0.1", target))
            try:
                relay(client, upstream)
            finally:
                os._exit(0)
        client.close()


if __name__ == "__main__":
    main()
