"""Headless Chromium for the report tests, through chromedriver's W3C WebDriver protocol (plain HTTP:
the standard library is the client). Debian's `chromium` and `chromium-driver` packages provide the
two binaries; .ci/install_browser.sh installs them.

    with Browser(width=1400, height=900) as browser:
        browser.open(Path("index.html").absolute().as_uri())
        browser.run("return document.title")
        browser.screenshot(Path("index.png"))
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
DRIVER = shutil.which("chromedriver")
MISSING = None if CHROMIUM and DRIVER else (
    "headless Chromium is not installed (Debian packages chromium and chromium-driver; .ci/install_browser.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, width: int = 1400, height: int = 900):
        if MISSING:
            raise RuntimeError(MISSING)
        self.size = (width, height)
        self.port = _free_port()
        self.driver = subprocess.Popen([DRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.session = None

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 120):
        url = f"http://127.0.0.1:{self.port}{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}").get("value")
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"WebDriver {method} {path}: {err.read().decode()[:500]}") from None

    def __enter__(self) -> "Browser":
        for _ in range(100):  # chromedriver takes a moment to listen
            try:
                self._call("GET", "/status", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        width, height = self.size
        options = {"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                                "--disable-dev-shm-usage", f"--window-size={width},{height}",
                                                "--hide-scrollbars", "--allow-file-access-from-files"]}
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = value["sessionId"]
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.session:
                self._call("DELETE", f"/session/{self.session}", timeout=30)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, script: str, *args):
        """Run ``script`` (a function body; ``arguments`` holds ``args``) in the current frame."""
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def frame(self, element_id: str | None) -> None:
        """Switch into the iframe with this id, or back to the top document (None)."""
        target = None
        if element_id is not None:
            target = self._call("POST", f"/session/{self.session}/element",
                                {"using": "css selector", "value": f"#{element_id}"})
        self._call("POST", f"/session/{self.session}/frame", {"id": target})

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")))
        return path
