"""Headless Chromium (Debian's ``chromium`` package) driven over the DevTools protocol on a pipe:
HTML → PDF, screenshots, and a check that a page loads with no console error and no request to
another host. Never downloads a browser; without one, :class:`ChromiumNotFoundError` says how to
install it."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.errors import TandemError

__all__ = [
    "CHROMIUM_ENV",
    "ChromiumError",
    "ChromiumNotFoundError",
    "PageCheck",
    "find_chromium",
    "html_to_pdf",
    "inspect_page",
    "screenshot",
]

CHROMIUM_ENV = "TANDEM_CHROMIUM"
"""Environment variable naming the Chromium executable (default: ``chromium`` on the PATH)."""

_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)
A4_PRINT_WIDTH_PX = 703
"""Printable width of an A4 page with 12 mm margins in CSS pixels ((210 − 24) mm at 96 dpi);
charts are laid out at this width before printing so nothing is cut."""


class ChromiumError(TandemError):
    """Chromium started but could not do the job (crashed, timed out, page failed)."""


class ChromiumNotFoundError(ChromiumError):
    """No Chromium executable: PDF output needs Debian's ``chromium`` package."""


def find_chromium(executable: str | Path | None = None) -> Path:
    """The Chromium to use: ``executable``, else ``$TANDEM_CHROMIUM``, else ``chromium`` on the
    PATH (``/usr/bin/chromium`` on Debian).

    Raises
    ------
    ChromiumNotFoundError
        With the install command, when there is none.
    """
    wanted = executable or os.environ.get(CHROMIUM_ENV)
    if wanted:
        found = shutil.which(str(wanted))
        if found:
            return Path(found)
        raise ChromiumNotFoundError(
            f"Chromium not found at '{wanted}' "
            f"(from {'--chromium' if executable else CHROMIUM_ENV})."
        )
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumNotFoundError(
        "PDF output needs headless Chromium, which is not installed. On Debian/Ubuntu: "
        "`apt-get install chromium` (or point TANDEM_CHROMIUM at a Chromium executable). "
        "HTML, CSV and xlsx reports work without it."
    )


# ------------------------------------------------------------------------------ the protocol
class _Browser:
    """One Chromium process spoken to over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out;
    messages are JSON separated by NUL bytes)."""

    def __init__(self, executable: Path, timeout: float) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.mkdtemp(prefix="tandem-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Move the child's ends above 10 so dup2 onto 3 and 4 cannot clobber one another.
        child_in = _high_fd(to_browser_r)
        child_out = _high_fd(from_browser_w)

        def wire() -> None:  # runs in the child between fork and exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen(
                [str(executable), *_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                preexec_fn=wire,
                close_fds=False,
            )
        finally:
            for fd in (to_browser_r, from_browser_w, child_in, child_out):
                os.close(fd)
        self._write = to_browser_w
        self._read = from_browser_r

    def _send(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            written = os.write(self._write, data)
            data = data[written:]
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._read], [], [], min(remaining, 0.5))
            if not ready:
                if self.process.poll() is not None:
                    raise ChromiumError(
                        f"Chromium exited (code {self.process.returncode}): {self._stderr_tail()}"
                    )
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium closed the connection: {self._stderr_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer (events meanwhile go to :attr:`events`)."""
        ident = self._send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._receive(deadline)
            if message is None:
                raise ChromiumError(f"Chromium did not answer {method} in time")
            if message.get("id") == ident:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_event(
        self, match: Callable[[dict[str, Any]], bool], timeout: float | None = None
    ) -> dict[str, Any]:
        for event in self.events:
            if match(event):
                return event
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._receive(deadline)
            if message is None:
                raise ChromiumError("timed out waiting for the page")
            if "method" in message:
                self.events.append(message)
                if match(message):
                    return message

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(text[-5:]) or "no output"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send("Browser.close", None, None)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)


def _high_fd(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


@contextlib.contextmanager
def _browser(executable: str | Path | None, timeout: float) -> Iterator[_Browser]:
    browser = _Browser(find_chromium(executable), timeout)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class PageCheck:
    """What loading a page showed: console errors, uncaught exceptions, failed requests and
    requests to anything but ``file:``/``data:``/``about:``, plus values the page computed."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.console_errors or self.failed_requests or self.external_requests)


_READY = (
    "document.readyState === 'complete' && (!document.getElementById('tandem-figures') "
    "|| !!document.body.getAttribute('data-charts'))"
)


def _open(browser: _Browser, path: Path, width: int, height: int, print_media: bool) -> str:
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Network", "Log"):
        browser.call(f"{domain}.enable", session=session)
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    if print_media:
        browser.call("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
    browser.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
    browser.wait_event(
        lambda e: e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
    )
    deadline = time.monotonic() + browser.timeout
    while not _evaluate(browser, session, _READY):
        if time.monotonic() > deadline:
            raise ChromiumError(f"{path}: charts were not drawn in {browser.timeout:.0f} s")
        time.sleep(0.05)
    return session


def _evaluate(browser: _Browser, session: str, expression: str) -> Any:
    result = browser.call(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session=session,
    )
    if "exceptionDetails" in result:
        raise ChromiumError(f"page script failed: {result['exceptionDetails'].get('text')}")
    return result.get("result", {}).get("value")


def _check(events: list[dict[str, Any]]) -> PageCheck:
    check = PageCheck()
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            check.console_errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            check.console_errors.append(
                details.get("exception", {}).get("description") or details.get("text", "exception")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            check.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.loadingFailed":
            check.failed_requests.append(f"{params.get('errorText')} ({params.get('type')})")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:", "blob:")):
                check.external_requests.append(url)
    return check


def inspect_page(
    path: Path,
    expressions: dict[str, str] | None = None,
    *,
    width: int = 1280,
    height: int = 900,
    png: Path | None = None,
    chromium: str | Path | None = None,
    timeout: float = 60.0,
) -> PageCheck:
    """Load ``path`` in headless Chromium, wait until its charts are drawn, and report console
    errors, failed and external requests, and the values of ``expressions`` (JavaScript); with
    ``png``, also save a screenshot of the viewport there."""
    with _browser(chromium, timeout) as browser:
        session = _open(browser, path, width, height, print_media=False)
        values = {name: _evaluate(browser, session, js) for name, js in (expressions or {}).items()}
        if png is not None:
            data = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
            Path(png).write_bytes(base64.b64decode(data["data"]))
        time.sleep(0.2)
        _evaluate(browser, session, "1")  # collect late events
        check = _check([e for e in browser.events if e.get("sessionId") == session])
        check.values = values
        return check


def screenshot(
    path: Path,
    png: Path,
    *,
    width: int = 1280,
    height: int = 900,
    full_page: bool = False,
    chromium: str | Path | None = None,
    timeout: float = 60.0,
) -> Path:
    """A PNG of ``path`` as a browser ``width`` px wide shows it (the whole page if
    ``full_page``)."""
    with _browser(chromium, timeout) as browser:
        session = _open(browser, path, width, height, print_media=False)
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = _evaluate(browser, session, "document.documentElement.scrollHeight")
            params.update(
                {
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": int(size), "scale": 1},
                }
            )
        data = browser.call("Page.captureScreenshot", params, session=session)["data"]
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(base64.b64decode(data))
    return png


_FOOTER = (
    "<div style='font-size:8px;width:100%;text-align:center;color:#64748b;"
    "font-family:sans-serif'><span class='pageNumber'></span> / "
    "<span class='totalPages'></span></div>"
)


def html_to_pdf(
    path: Path, pdf: Path, *, chromium: str | Path | None = None, timeout: float = 120.0
) -> Path:
    """Print the HTML file ``path`` to ``pdf`` (A4 portrait, 12 mm margins, page numbers), after
    its charts are drawn at the printable width.

    Raises
    ------
    ChromiumNotFoundError
        When Chromium is not installed (the message says how to install it).
    ChromiumError
        When Chromium fails or the page does not finish drawing within ``timeout`` seconds.
    """
    with _browser(chromium, timeout) as browser:
        session = _open(browser, path, A4_PRINT_WIDTH_PX, 1000, print_media=True)
        result = browser.call(
            "Page.printToPDF",
            {
                "printBackground": True,
                "preferCSSPageSize": True,
                "paperWidth": 8.27,
                "paperHeight": 11.69,
                "marginTop": 0.47,
                "marginBottom": 0.47,
                "marginLeft": 0.47,
                "marginRight": 0.47,
                "displayHeaderFooter": True,
                "headerTemplate": "<div></div>",
                "footerTemplate": _FOOTER,
            },
            session=session,
        )
    pdf = Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(base64.b64decode(result["data"]))
    return pdf
