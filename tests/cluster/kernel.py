"""A Jupyter client in the standard library only, as a browser talks to Jupyter Lab: the REST API
(start a kernel, list kernels) and the kernel's websocket channel (execute_request, then the
replies until the kernel is idle). For the jupyter tests and bench/jupyter.sh.

Usage: kernel.py BASE_URL [KERNEL_ID] < code
  The token is read from the environment variable JUPYTER_TEST_TOKEN (never an argument: it
  would show in `ps`). Without KERNEL_ID a new kernel is started. Prints one JSON line:
  {"kernel": ID, "stdout": TEXT, "result": TEXT|null, "error": TEXT|null}. Exit 0 when the code
  ran without error, 1 when it raised, 2 when the server could not be used.
Usage: kernel.py --status BASE_URL [TOKEN-VAR]
  Prints the HTTP status of GET api/kernels with the token (or without one when TOKEN-VAR is
  `none`).
"""
import base64
import json
import os
import socket
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


def request(method, url, token, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def status(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


class WebSocket:
    """RFC 6455, client side, text frames only (what Jupyter's kernel channel speaks)."""

    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: token {token}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise OSError("the server closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError("no websocket: " + head.split(b"\r\n")[0].decode())
        self.buf = b""

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("the server closed the websocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            op = b0 & 0x0F
            if op == 0x9:  # ping
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + os.urandom(4) + b"")
                continue
            if op == 0x8:
                raise OSError("the server closed the websocket")
            message += payload
            if b0 & 0x80:
                return message.decode()


def execute(base, token, kernel, code):
    ws_base = base.replace("http://", "ws://", 1)
    ws = WebSocket(f"{ws_base}api/kernels/{kernel}/channels?session_id={uuid.uuid4().hex}", token)
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    out = {"kernel": kernel, "stdout": "", "result": None, "error": None}
    replied = idle = False
    while not (replied and idle):
        m = json.loads(ws.recv())
        if m.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = m["header"]["msg_type"], m["content"]
        if kind == "stream":
            out["stdout"] += content.get("text", "")
        elif kind == "execute_result":
            out["result"] = content["data"].get("text/plain")
        elif kind == "error":
            out["error"] = f"{content.get('ename')}: {content.get('evalue')}"
        elif kind == "execute_reply":
            replied = True
        elif kind == "status" and content.get("execution_state") == "idle":
            idle = True
    return out


def main():
    if sys.argv[1] == "--status":
        base = sys.argv[2]
        token = None if sys.argv[3:] == ["none"] else os.environ.get("JUPYTER_TEST_TOKEN")
        print(status(f"{base}api/kernels", token))
        return 0
    base = sys.argv[1]
    token = os.environ["JUPYTER_TEST_TOKEN"]
    try:
        kernel = sys.argv[2] if len(sys.argv) > 2 else request("POST", f"{base}api/kernels", token, {"name": "python3"})["id"]
        out = execute(base, token, kernel, sys.stdin.read())
    except (OSError, urllib.error.URLError, KeyError, ValueError) as e:
        print(json.dumps({"error": f"server: {e}"}))
        return 2
    print(json.dumps(out))
    return 1 if out["error"] else 0


sys.exit(main())
