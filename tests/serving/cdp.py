"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no extra
package): headless Chromium driven like a user (navigate, type, submit, read the page).

Not a test module. Chromium reads commands from its fd 3 and writes answers and events
to fd 4, one JSON message per NUL-terminated record.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class Chromium:
    """One headless Chromium with a fresh profile and one page (``tab`` session)."""

    def __init__(self, binary: str, width: int = 1280, height: int = 2000) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-")
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads our commands, fd 4 writes back
            a = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,  # noqa: PLW1509 (no threads start Chromium here)
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.tab = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.call(domain, session=self.tab)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=self.tab,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise ConnectionError("Chromium closed its pipe")
            self._buffer += chunk
        record, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(record)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result (events met meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            got = self._message(deadline)
            if got.get("id") == self._next_id:
                if "error" in got:
                    raise RuntimeError(f"{method}: {got['error']}")
                return got.get("result", {})
            self.events.append(got)

    def wait(self, method: str, timeout: float = 60) -> dict[str, Any]:
        """The next event ``method`` of the tab (events before it are kept)."""
        deadline = time.monotonic() + timeout
        for k, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == self.tab:
                return self.events.pop(k)
        while True:
            got = self._message(deadline)
            if got.get("method") == method and got.get("sessionId") == self.tab:
                return got
            self.events.append(got)

    def load(self, action: Any) -> None:
        """Run ``action`` (a navigation or a form submission) and wait until the page loads."""
        self.events.clear()
        action()
        self.wait("Page.loadEventFired")

    def goto(self, url: str) -> None:
        self.load(lambda: self.call("Page.navigate", session=self.tab, url=url))

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression evaluated in the page (DevTools, not the page's scripts)."""
        result = self.call(
            "Runtime.evaluate", session=self.tab, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def html(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def documents(self) -> list[tuple[str, int]]:
        """(url, status) of the documents loaded since the last ``load``, in order."""
        return [
            (e["params"]["response"]["url"], int(e["params"]["response"]["status"]))
            for e in self.events
            if e.get("method") == "Network.responseReceived"
            and e["params"].get("type") == "Document"
        ]

    def redirects(self) -> list[tuple[str, int]]:
        """(url, status) of the redirects followed since the last ``load``, in order."""
        return [
            (e["params"]["redirectResponse"]["url"], int(e["params"]["redirectResponse"]["status"]))
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent" and "redirectResponse" in e["params"]
        ]

    def cookies(self) -> list[dict[str, Any]]:
        return list(self.call("Network.getCookies", session=self.tab)["cookies"])

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", session=self.tab, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, ConnectionError, RuntimeError):
            self.call("Browser.close")
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._out)
        os.close(self._in)
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
