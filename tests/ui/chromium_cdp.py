"""A minimal headless-Chromium driver over the Chrome DevTools Protocol (no selenium needed).

One browser, one page. Clicks are real mouse events at the element's centre (so the page sees
a user gesture, as with a person), typing is `Input.insertText` into the focused field (so
React-controlled inputs update), and every wait polls the page with a deadline. Screenshots
go to the artifacts folder.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Debian's `chromium` (or a Chrome) on PATH, or $CHROMIUM_BIN."""
    configured = os.environ.get("CHROMIUM_BIN")
    if configured and Path(configured).exists():
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(AssertionError):
    """A step in the browser did not happen in time; the message says which."""


class Chromium:
    """Headless Chromium with one page, driven over CDP.

    Args:
        binary: the chromium executable.
        artifacts: where screenshots go.
        width, height: the window size.
    """

    def __init__(self, binary: str, artifacts: Path, width: int = 1440, height: int = 960) -> None:
        self.binary = binary
        self.artifacts = artifacts
        self.width = width
        self.height = height
        self._ids = itertools.count(1)
        self._profile = tempfile.mkdtemp(prefix="ls-chromium-")
        self._process: subprocess.Popen[bytes] | None = None
        self._ws: Any = None
        self._shots = itertools.count(1)
        self._stack = ExitStack()

    def __enter__(self) -> Chromium:
        self._process = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port()
        self._ws = self._stack.enter_context(
            connect(self._page_socket(port), max_size=None, open_timeout=10)
        )
        self.send("Page.enable")
        self.send("Runtime.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol -------------------------------------------------------------------------

    def _devtools_port(self, timeout: float = 20.0) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self._process is not None and self._process.poll() is not None:
                raise BrowserError(f"{self.binary} exited with {self._process.returncode}")
            time.sleep(0.1)
        raise BrowserError(f"{self.binary} did not open its DevTools port in {timeout:.0f} s")

    @staticmethod
    def _page_socket(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        return page["webSocketDebuggerUrl"]

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One CDP command; events arriving meanwhile are dropped (we poll state instead)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    # -- page -----------------------------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"JS failed: {result['exceptionDetails'].get('text')}: {expression}")
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", f"{url} to load")

    def url(self) -> str:
        return str(self.evaluate("window.location.href"))

    def wait_for(self, expression: str, what: str, timeout: float = 30.0) -> Any:
        """Poll a JS expression until it is truthy; fail naming `what` (with a screenshot)."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError as exc:  # e.g. during a navigation
                last_error = str(exc)
                value = None
            if value:
                return value
            time.sleep(0.25)
        shot = self.screenshot("timeout")
        raise BrowserError(
            f"Timed out after {timeout:.0f} s waiting for {what} (at {self.url()}; "
            f"screenshot {shot}). {last_error}"
        )

    def click(self, selector: str, frame: str | None = None) -> None:
        """A real mouse click at the element's centre (inside the iframe `frame`, if given)."""
        x, y = self._centre(selector, frame)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_into(self, selector: str, text: str, frame: str | None = None) -> None:
        """Focus the field and type, as a person would (React sees the change)."""
        root = _root(frame)
        self.evaluate(f"{root}.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def text(self, selector: str = "body", frame: str | None = None) -> str:
        root = _root(frame)
        return str(
            self.evaluate(f"({root}.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")
        )

    def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{next(self._shots):02d}-{name}.png"
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def _centre(self, selector: str, frame: str | None) -> tuple[float, float]:
        root = _root(frame)
        offset = (
            f"document.querySelector({json.dumps(frame)}).getBoundingClientRect()"
            if frame
            else "({left: 0, top: 0})"
        )
        box = self.evaluate(
            f"""(() => {{
                const el = {root}.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect(), o = {offset};
                return [o.left + r.left + r.width / 2, o.top + r.top + r.height / 2];
            }})()"""
        )
        if not box:
            raise BrowserError(f"no element {selector!r}" + (f" in {frame}" if frame else ""))
        return float(box[0]), float(box[1])


def _root(frame: str | None) -> str:
    """The document to query: the page's, or a same-origin iframe's."""
    if frame is None:
        return "document"
    return f"document.querySelector({json.dumps(frame)}).contentDocument"
