"""Headless Chromium for tests that use a page as a person would: open it, type, click, read
what it shows, and list every URL it asked for.

No driver to install: Debian's `chromium` speaks the DevTools protocol (CDP) on a WebSocket,
and aiohttp is the client. Clicks and typing are real input events (`Input.*`), so a page's
handlers run as they would for a user. Every request the page makes is logged from
`Network.requestWillBeSent`; host names other than 127.0.0.1 are never resolved
(`--host-resolver-rules`), so a page that tries to reach a CDN shows up in `requested`
without any traffic leaving the machine.

```python
async with open_page(tmp_path) as page:
    await page.goto(url)
    await page.fill("#email", "a@b.c")
    await page.click("button[type=submit]")
    await page.wait_for("document.querySelector('#jobs tr') !== null", what="the list")
    assert page.foreign_requests() == []
```
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

CHROMIUM: Final = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING: Final = "Debian's chromium is not installed (CI installs it with apt-get)"
LOCAL_HOST: Final = "127.0.0.1"
# Schemes that never reach the network: the page's own inline data and blobs.
_NOT_NETWORK: Final = frozenset({"data", "blob", "about", "chrome", "devtools"})
_FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # tests run as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
)


class BrowserError(Exception):
    """Chromium could not do what the test asked (it said why), or a wait ran out."""


class _Connection:
    """One CDP WebSocket: commands matched to their answers by id, events to listeners."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[str, dict[str, Any], str | None], None]] = []
        self._reader = asyncio.create_task(self._read())

    def listen(self, listener: Callable[[str, dict[str, Any], str | None], None]) -> None:
        self._listeners.append(listener)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = answer
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(answer, 60)

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                answer = self._waiting.pop(data["id"], None)
                if answer is None or answer.done():
                    continue
                if "error" in data:
                    answer.set_exception(BrowserError(f"CDP: {data['error']}"))
                else:
                    answer.set_result(data.get("result", {}))
            else:
                for listener in self._listeners:
                    listener(data["method"], data.get("params", {}), data.get("sessionId"))
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(BrowserError("Chromium closed the DevTools connection"))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page:
    """A tab: navigate, read the DOM through JavaScript, type and click with real input.

    `requested` holds every URL the tab asked for, in order; `problems` the page's uncaught
    exceptions, console errors and the browser's own complaints (a CSP violation, say), but
    not answers with an error status, which a page may expect.
    A `confirm()` or `alert()` is answered OK, as a user agreeing would; `dialogs` keeps
    their messages."""

    def __init__(self, connection: _Connection, session: str) -> None:
        self._cdp = connection
        self._session = session
        self.requested: list[str] = []
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self._loaded = asyncio.Event()
        self._answers: set[asyncio.Task[dict[str, Any]]] = set()
        connection.listen(self._on_event)

    def _on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if session != self._session:
            return
        if method == "Network.requestWillBeSent":
            self.requested.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params["message"])
            answer = asyncio.create_task(self.send("Page.handleJavaScriptDialog", accept=True))
            self._answers.add(answer)
            answer.add_done_callback(self._answers.discard)
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.problems.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.problems.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            if entry["source"] == "network":
                return  # a 4xx answer the page expects (a 401 sign-in page, say)
            self.problems.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self._cdp.send(method, params, self._session)

    async def goto(self, url: str, within_s: float = 30.0) -> None:
        """Open `url` and wait for its load event (a page answered with 401 loads too)."""
        self._loaded.clear()
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        try:
            await asyncio.wait_for(self._loaded.wait(), within_s)
        except TimeoutError:
            raise BrowserError(f"{url} did not finish loading in {within_s} s") from None

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited), as JSON."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw {text}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, what: str, within_s: float = 20.0) -> Any:
        """Poll `expression` until it is truthy; its value. `what` names it in the failure."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText : ''")
                raise BrowserError(
                    f"waited {within_s} s for {what}; the page shows:\n{str(text)[:2000]}\n"
                    f"problems: {self.problems}"
                )
            await asyncio.sleep(0.1)

    async def click(self, selector: str) -> None:
        """A left click in the middle of the first element matching `selector`."""
        box = await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect();
                return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
            }})()"""
        )
        if box is None:
            raise BrowserError(f"nothing matches {selector!r} to click")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=0 if kind == "mouseMoved" else 1,
            )

    async def fill(self, selector: str, text: str) -> None:
        """Focus a field, clear it and type `text` into it."""
        found = await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return false;
                el.focus();
                el.select();
                return true;
            }})()"""
        )
        if not found:
            raise BrowserError(f"nothing matches {selector!r} to type into")
        await self.send("Input.insertText", text=text)

    async def select(self, selector: str, label: str) -> None:
        """Pick the option shown as `label` in a <select>, as a user's pick does: the value
        set, then `input` and `change` (a native drop-down cannot be clicked headless)."""
        found = await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                const option = el && [...el.options].find(o => o.text === {json.dumps(label)});
                if (!option) return false;
                el.focus();
                el.value = option.value;
                el.dispatchEvent(new Event("input", {{bubbles: true}}));
                el.dispatchEvent(new Event("change", {{bubbles: true}}));
                return true;
            }})()"""
        )
        if not found:
            raise BrowserError(f"no <select> {selector!r} with an option {label!r}")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    def foreign_requests(self) -> list[str]:
        """The requested URLs that went (or tried to go) anywhere but 127.0.0.1."""
        return [url for url in self.requested if not is_local(url)]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in _NOT_NETWORK or parts.hostname == LOCAL_HOST


@asynccontextmanager
async def open_page(profile: Path, *, width: int = 1280, height: int = 900) -> AsyncIterator[Page]:
    """A fresh headless Chromium (its profile in `profile`, which must be a new folder) with
    one tab; the browser is ended on the way out."""
    if CHROMIUM is None:
        raise BrowserError(MISSING)
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    log = await asyncio.to_thread((profile / "chromium.log").open, "wb")
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(await _devtools_url(profile, proc), max_msg_size=0)
            cdp = _Connection(ws)
            try:
                target = await cdp.send("Target.createTarget", {"url": "about:blank"})
                attached = await cdp.send(
                    "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
                )
                page = Page(cdp, attached["sessionId"])
                for domain in ("Page", "Network", "Runtime", "Log"):
                    await page.send(f"{domain}.enable")
                yield page
            finally:
                with contextlib.suppress(BrowserError, TimeoutError, ConnectionError):
                    await asyncio.wait_for(cdp.send("Browser.close"), 5)
                await cdp.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.close()


async def _devtools_url(profile: Path, proc: asyncio.subprocess.Process) -> str:
    # With --remote-debugging-port=0 Chromium picks a free port and writes it, with the
    # browser's WebSocket path, to DevToolsActivePort in its profile.
    active = profile / "DevToolsActivePort"
    for _ in range(300):
        if proc.returncode is not None:
            raise BrowserError(
                f"chromium exited with {proc.returncode}; see {profile}/chromium.log"
            )
        with contextlib.suppress(OSError, ValueError):
            port, path = active.read_text().split("\n")[:2]
            if port and path:
                return f"ws://{LOCAL_HOST}:{int(port)}{path}"
        await asyncio.sleep(0.1)
    raise BrowserError(f"chromium did not open its DevTools port; see {profile}/chromium.log")
