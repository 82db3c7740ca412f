"""A free TCP port on 127.0.0.1, for a server a test starts (a Gradio app, ``accelerate launch``'s rendezvous).

Teammates' test runs may start servers at the same time on the shared machine: never rely on a fixed port
(accelerate's default 29500, Gradio's 7860)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
