"""Child processes that never outlive the service, and a check for a port already taken."""

import ctypes
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send ``sig`` to the child when this process dies,
    however it dies (SIGKILL included); None where the kernel cannot (not Linux). Call it in the
    thread that stays alive as long as the process (the main thread): Linux signals the child
    when the thread that started it ends."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal
            os.kill(os.getpid(), sig)

    return preexec


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (binding it, as a server would,
    with SO_REUSEADDR so that closed connections still in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False
