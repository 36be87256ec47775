"""Open the rendered book in headless Chromium: every page loads, no image is broken, no
JavaScript error is logged, every table a chapter shows has a working link to its CSV file
and the command that regenerates it, and every figure links to its files. Screenshots go to
``_build/screenshots/``.

    python -m coos_utils.book.browser_check [_build/html]

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package
(``make check-book`` installs them). Serves the html on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from coos_utils.book.toc import toc_entries

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BROKEN_IMAGES_JS = (
    "return Array.from(document.images)"
    ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);"
)

TABLE_LINKS_JS = """
const cells = el => el.closest('.cell_output');
const tables = [...document.querySelectorAll('.cell_output table')].map(t => {
  const cell = cells(t);
  return {kind: 'table',
          links: [...cell.querySelectorAll('a[href$=".csv"]')].map(a => a.href),
          command: [...cell.querySelectorAll('code')]
            .some(c => c.textContent.includes('coos run'))};
});
const figures = [...document.querySelectorAll('.cell_output img')].map(i => {
  const cell = cells(i);
  return {kind: 'figure',
          links: [...cell.querySelectorAll('a[href$=".svg"], a[href$=".png"]')].map(a => a.href),
          command: true};
});
return tables.concat(figures);
"""


@dataclass
class PageResult:
    """What one page showed."""

    page: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    def add_log_entry(self, entry: dict) -> None:
        """Uncaught errors and failed loads are problems; console.error calls are notes.

        The browser's own request for /favicon.ico is not part of the book and is ignored.
        """
        if entry.get("level") != "SEVERE":
            return
        message = str(entry.get("message"))
        if entry.get("source") == "console-api":
            self.notes.append(f"console.error: {message}")
        elif "favicon.ico" not in message:
            self.problems.append(f"{entry.get('source')}: {message}")


def toc_pages(toc: Path) -> list[str]:
    """The html page of every file the table of contents names, the index first."""
    return ["index.html", *(f"{entry}.html" for entry in toc_entries(toc))]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Keep the request log out of the report."""


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A browser closing a connection early (cancelled load) is not an error of the book."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _driver():  # noqa: ANN202 - selenium is an optional dependency
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def link_problems(shown: list[dict]) -> list[str]:
    """Tables without a CSV link or regeneration command, figures without file links, and
    links that do not load."""
    problems, seen = [], set()
    for k, item in enumerate(shown):
        if not item["links"]:
            problems.append(f"{item['kind']} {k + 1} has no link to its file")
        if not item["command"]:
            problems.append(f"table {k + 1} has no `coos run` command under it")
        for link in set(item["links"]) - seen:
            seen.add(link)
            try:
                urllib.request.urlopen(link, timeout=10).close()
            except urllib.error.URLError as exc:
                problems.append(f"broken link {link}: {exc}")
    return problems


def check_book(html: Path, toc: Path, screenshots: Path) -> list[PageResult]:
    """Load every page of the book; return what was wrong with each."""
    screenshots.mkdir(parents=True, exist_ok=True)
    results = []
    with serve(html) as base:
        driver = _driver()
        try:
            for page in toc_pages(toc):
                result = PageResult(page)
                try:
                    urllib.request.urlopen(base + page, timeout=10).close()
                except urllib.error.URLError as exc:
                    result.problems.append(f"cannot load: {exc}")
                    results.append(result)
                    continue
                driver.get(base + page)
                for entry in driver.get_log("browser"):
                    result.add_log_entry(entry)
                result.problems += [
                    f"broken image: {src}" for src in driver.execute_script(BROKEN_IMAGES_JS)
                ]
                result.problems += link_problems(driver.execute_script(TABLE_LINKS_JS))
                result.screenshot = screenshots / (
                    page.replace("/", "__").removesuffix(".html") + ".png"
                )
                driver.save_screenshot(str(result.screenshot))
                results.append(result)
        finally:
            driver.quit()
    return results


def main(argv: list[str] | None = None) -> int:
    """Check the book and print one line per page; exit 1 if any page has a problem."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        print(f"{args.html}: no index.html; run `make book` first", file=sys.stderr)
        return 1
    results = check_book(args.html, args.toc, args.screenshots)
    for result in results:
        status = "ok" if not result.problems else "FAIL"
        print(f"{status:4} {result.page}  {result.screenshot or ''}")
        for problem in result.problems:
            print(f"       {problem}")
        for note in result.notes:
            print(f"       (note) {note}")
    failed = sum(bool(r.problems) for r in results)
    print(f"{len(results)} pages checked, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
