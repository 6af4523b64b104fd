"""Debian's headless Chromium, driven through chromedriver (selenium), for the web output's
pages: open a page, wait for its terminal's prompt, type into the terminal, read its text.

The page publishes its state as ``window.wasixWeb`` (``wasix_backend/outputs/web_assets/
wasix-web.js``): ``state`` (loading, ready, running, failed), ``error``, ``exitCode``,
``runs``, ``output`` (the last run's terminal text) and ``screen()`` (all of it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "install Debian's chromium and chromium-driver (sudo apt-get install chromium chromium-driver) and selenium (pip install -e '.[test]')"


def browser_problem() -> str | None:
    """Why no browser test can run here, or None."""
    if not (Path(CHROMIUM).is_file() and shutil.which("chromedriver", path=str(Path(CHROMEDRIVER).parent))):
        return f"no {CHROMIUM} or {CHROMEDRIVER}: {INSTALL}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {INSTALL}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline} s")


@contextmanager
def server(argv: list[str], port: int) -> Iterator[str]:
    """Run a server command (it listens on 127.0.0.1:``port``); yield its base URL; stop it."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@contextmanager
def serve_site(site: Path, *, isolate: bool = True) -> Iterator[str]:
    """``wasix-build serve SITE`` (with the headers), or Python's plain ``http.server``
    (``isolate=False``: a static host that sends none)."""
    port = free_port()
    if isolate:
        argv = [sys.executable, "-m", "wasix_backend", "serve", str(site), "--port", str(port)]
    else:
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
    with server(argv, port) as url:
        yield url


class Page:
    """One Chromium session (its own fresh profile: a cold cache) on the pages of a site."""

    def __init__(self) -> None:
        from selenium import webdriver

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        # DevTools over a pipe, and chromedriver started here and reached at 127.0.0.1: both
        # would otherwise dial "localhost", which a machine without /etc/hosts (a minimal
        # chroot) cannot resolve ("unable to connect to renderer").
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900",
                    "--remote-debugging-pipe"):  # fmt: skip
            options.add_argument(arg)
        self._stack = ExitStack()
        port = free_port()
        url = self._stack.enter_context(server([CHROMEDRIVER, f"--port={port}"], port))
        try:
            self.driver = webdriver.Remote(command_executor=url, options=options)
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self._stack.close()

    def status(self) -> dict[str, Any]:
        value = self.driver.execute_script(
            "const w = window.wasixWeb; return w ? {state: w.state, error: w.error, exitCode: w.exitCode,"
            " runs: w.runs, output: w.output, loadedMs: w.loadedMs, isolated: window.crossOriginIsolated} : null"
        )
        return value or {"state": "no page script"}

    def wait(self, done, timeout: float = 120.0) -> dict[str, Any]:
        """Poll :meth:`status` until ``done(status)``; the status (an error after ``timeout``)."""
        end = time.monotonic() + timeout
        status = self.status()
        while not done(status):
            if time.monotonic() > end:
                raise AssertionError(f"the page did not get there in {timeout} s: {status}\n{self.screen()}")
            time.sleep(0.1)
            status = self.status()
        return status

    def open(self, url: str) -> dict[str, Any]:
        """Open ``url`` and wait for the first prompt (or the page's failure)."""
        self.driver.get(url)
        return self.wait(lambda s: s["state"] in ("ready", "failed"))

    def wait_screen(self, text: str, timeout: float = 60.0) -> str:
        """Wait until the terminal shows ``text``; the whole terminal's text."""
        end = time.monotonic() + timeout
        while text not in (screen := self.screen()):
            if time.monotonic() > end:
                raise AssertionError(f"the terminal did not show {text!r} in {timeout} s:\n{screen}")
            time.sleep(0.1)
        return screen

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until the terminal has not changed for ``quiet`` s (at most ``timeout``): the
        next line typed then cannot be echoed into the middle of the program's answer to the
        last one, as typing ahead on a real terminal can."""
        end = time.monotonic() + timeout
        last, since = self.screen(), time.monotonic()
        while time.monotonic() < end and time.monotonic() - since < quiet:
            time.sleep(0.05)
            if (now := self.screen()) != last:
                last, since = now, time.monotonic()

    def screen(self) -> str:
        return self.driver.execute_script("return window.wasixWeb ? window.wasixWeb.screen() : document.body.innerText")

    def type(self, text: str) -> None:
        """Type into the terminal as a person would (the keys reach xterm.js's text area)."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(text)

    def ctrl(self, key: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(Keys.CONTROL, key)

    def run(self, command_line: str, stdin_lines: list[str] = (), *, end: str = "d", timeout: float = 120.0) -> dict[str, Any]:  # type: ignore[assignment]
        """Type a command line, then each stdin line (after the program started), then Ctrl-D
        (``end``: another Ctrl key); the status once the prompt is back."""
        runs = self.status()["runs"]
        self.type(command_line + "\n")
        self.wait(lambda s: s["state"] != "ready" or s["runs"] > runs)
        for line in stdin_lines:
            self.type(line + "\n")
            self.settle()
        if self.status()["state"] == "running":
            self.ctrl(end)
        return self.wait(lambda s: s["state"] == "ready" and s["runs"] > runs, timeout)
