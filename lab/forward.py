"""A localhost port on the host that leads into a lab client's namespace.

The listening socket is made here, on the host's loopback; a child started inside the client's
namespace inherits it, accepts there and connects out from the client: the portal sees that client's
address, so a browser on the host sees that client's own page. (A socket keeps the namespace it was
made in, which is what makes this work without socat or iptables.)

    python -m lab.forward FD HOST PORT   # the child: relay connections on FD to HOST:PORT
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

# The repository, for the child's `-m lab.forward` whatever the current directory (lab is not installed).
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Forward:
    def __init__(self, ns: str, port: int, host: str, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        fd = self.listener.fileno()
        path = os.pathsep.join(p for p in (_REPOSITORY, os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "lab.forward", str(fd), host, str(target_port)],
            pass_fds=(fd,), stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": path})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.listener.close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(fd: int, host: str, port: int) -> None:
    listener = socket.socket(fileno=fd)
    while True:
        conn, _ = listener.accept()
        try:
            out = socket.create_connection((host, port), timeout=10)
            out.settimeout(None)
        except OSError:
            conn.close()
            continue
        for a, b in ((conn, out), (out, conn)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
