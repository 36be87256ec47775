"""Open the rendered book in headless Chromium at 1280 x 900 px and check what a reader sees.

    python -m coos_utils.book.browser_check [_build/html]

Every page: it loads; no image is broken; no JavaScript error is logged; every table a chapter
shows has a working link to its CSV file and the command that regenerates it, and every figure
links to its files; and these reading rules (judged by ``coos_utils.book.page_rules``):

- **No sideways scrolling at 1280 px**: the document is no wider than the window, and no
  visible ``table``, ``pre`` or ``img`` of the main column (``article.bd-article``) is wider
  than the room the column gives it (a ``pre`` whose lines run past its box fails too). The
  report names the element: a table's first header, a code block's first line, an image's
  section. Folded content (closed ``<details>``) is not measured.
- **No absolute machine path** in the page's text, links or image sources: a path under a
  machine's top-level folder (``/work/``, ``/home/``, ``/root/``, ``/tmp/``, ``/Users/``,
  ``/mnt/``, ``/opt/``, ``/var/``, ``/data/``, ``/scratch/`` ... see ``MACHINE_ROOTS``) that is
  not part of a URL or a relative path, a Windows drive path (``C:\\...``, ``D:/...``), a
  ``file:/`` URL, or a quoted string starting with ``/`` with two or more parts
  (``"/x/y"``). URLs (``https://host/home/x``) and relative links (``../data/x``) pass.
- **Every figure has a numbered caption**. A figure is an ``img`` in a cell output or in a
  ``figure`` element of the main column. It passes with any one of:
  (a) a Sphinx numbered figure, whose ``figcaption`` starts "Fig. N" or "Figure N": the MyST
  ``{figure}`` directive or MyST-NB's ``{glue:figure}`` with a ``:name:`` (numfig on);
  (b) a paragraph starting "Figure N" after the image in the same code cell's output and
  before its next image, e.g. ``display(Markdown(f"**Figure {n}.** What to see ..."))``
  right after the figure is shown;
  (c) for the last image of a cell, a Markdown paragraph starting "Figure N" as the very
  next block after the cell (``**Figure 2.** What to see ...`` in the following Markdown
  cell, as its first paragraph).
- **Every chapter opens with its answer** (chapter pages: the notebooks of
  ``coos_utils.book.chapters``): an element with class ``chapter-summary`` (or a code cell
  tagged ``chapter-summary``, which Jupyter Book renders with class ``tag_chapter-summary``)
  that states at least one number of this run (a numeral standing alone, such as ``5.5`` in
  ``(5.5%)``; the digit of ``test3`` or ``FC2`` does not count) and comes before the page's
  first table, figure and second-level (``##``) heading (a figure inside the summary element
  is fine). Either form passes::

      :::{admonition} On this run
      :class: chapter-summary
      DeepLoc has the lowest error on test3 ({glue:text}`err_test3`%) ...
      :::

  or a code cell with tags ``[chapter-summary, remove-input]`` whose output is the generated
  text, ``display(Markdown(summary_text))`` (it may show the headline figure too).
- **Code is folded** (chapter pages): every code cell (``div.cell``) carries the tag
  ``hide-input``, ``remove-input`` or ``hide-cell`` (MyST-NB puts class ``tag_<tag>`` on the
  cell) or is rendered without its input (MyST-NB's ``remove_code_source``), except the cell
  tagged ``parameters``, which must be present and not folded, and the papermill-injected
  cell (``injected-parameters``), which may be either. ``hide-output`` alone does not fold.

Screenshots of every page go to ``_build/screenshots/``: ``<page>.png`` (the first screen,
1280 x 900) and ``<page>-full.png`` (the whole page), ``<page>`` being the html path with
``/`` as ``__`` (``book___generated__03_classifiers``).

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package
(``make check-book`` installs them). Serves the html on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
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

from coos_utils.book.chapters import BY_NAME
from coos_utils.book.page_rules import markup_problems, overflow_problems
from coos_utils.book.toc import toc_entries

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SETTLED_JS = (
    "return document.readyState === 'complete'"
    " && !document.querySelector('meta[http-equiv=refresh i]');"
)
WINDOW = (1280, 900)  # css px: the width the book must fit, the first screen's height
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

# The widths page_rules.overflow_problems judges: the document's, and each visible table, pre
# and img of the main column with the room the column leaves it (a pre: its own box).
LAYOUT_JS = """
const doc = document.documentElement;
const column = document.querySelector('article.bd-article') || document.querySelector('main')
  || document.body || doc;
const style = getComputedStyle(column);
const right = column.getBoundingClientRect().right - parseFloat(style.paddingRight);
const text = (s, n = 60) => (s || '').replace(/\\s+/g, ' ').trim().slice(0, n);
const label = el => {
  if (el.tagName === 'TABLE') {
    const heads = [...el.querySelectorAll('th, td')].map(c => text(c.textContent));
    return heads.find(h => h) || '(empty table)';
  }
  if (el.tagName === 'PRE') {
    return text(el.textContent.split('\\n').find(l => l.trim()));
  }
  return text(el.getAttribute('alt')).split('/').pop() || text(el.src.split('/').pop());
};
const section = el => {
  const s = el.closest('section');
  const h = s && s.querySelector('h1, h2, h3, h4, h5, h6');
  return h ? text(h.textContent, 200).replace(/#$/, '').trim() : '(no section)';
};
const items = [...column.querySelectorAll('table, pre, img')]
  .filter(el => el.checkVisibility({visibilityProperty: true})
    && !el.closest('details:not([open]) > :not(summary)'))
  .map(el => {
    const box = el.getBoundingClientRect();
    const pre = el.tagName === 'PRE';
    return {kind: el.tagName === 'IMG' ? 'image' : el.tagName.toLowerCase(),
            label: label(el), section: section(el),
            width: pre ? el.scrollWidth : Math.max(box.width, el.scrollWidth),
            room: pre ? el.clientWidth : right - box.left};
  });
return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, items: items};
"""


@dataclass
class PageResult:
    """What one page showed."""

    page: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

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


def is_chapter(page: str) -> bool:
    """Whether ``page`` is an executed chapter (a notebook ``coos_utils.book.chapters``
    declares), which must open with its summary and fold its code."""
    return Path(page).stem in BY_NAME


def screenshot_stem(page: str) -> str:
    """The screenshots' file name for ``page``: its path with ``/`` as ``__``, no suffix."""
    return page.replace("/", "__").removesuffix(".html")


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
    """Headless Chromium whose viewport is exactly ``WINDOW`` css px."""
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
        "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    _viewport(driver, WINDOW[1])
    return driver


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


def _viewport(driver, height: int) -> None:  # noqa: ANN001 - selenium
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def save_screenshots(driver, folder: Path, page: str) -> list[Path]:  # noqa: ANN001 - selenium
    """The first screen and the whole page of the loaded ``page`` as PNG files in ``folder``.

    The whole page is taken through a viewport as tall as the page, then the window is set
    back to ``WINDOW``."""
    first, full = (folder / f"{screenshot_stem(page)}{tail}.png" for tail in ("", "-full"))
    driver.save_screenshot(str(first))
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    _viewport(driver, height)
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        _viewport(driver, WINDOW[1])
    full.write_bytes(base64.b64decode(shot["data"]))
    return [first, full]


def _settle(driver, timeout: float = 10) -> None:  # noqa: ANN001 - selenium
    """Wait until the page has loaded and followed any ``<meta http-equiv="refresh">``
    (the book's index.html is one)."""
    from selenium.common.exceptions import JavascriptException
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(driver, timeout, ignored_exceptions=(JavascriptException,)).until(
        lambda d: d.execute_script(SETTLED_JS)
    )


def check_page(driver, base: str, page: str, screenshots: Path) -> PageResult:  # noqa: ANN001
    """Load ``page`` (a path under ``base``) and judge it."""
    result = PageResult(page)
    try:
        urllib.request.urlopen(base + page, timeout=10).close()
    except urllib.error.URLError as exc:
        result.problems.append(f"cannot load: {exc}")
        return result
    driver.get(base + page)
    _settle(driver)
    for entry in driver.get_log("browser"):
        result.add_log_entry(entry)
    result.problems += [f"broken image: {src}" for src in driver.execute_script(BROKEN_IMAGES_JS)]
    result.problems += link_problems(driver.execute_script(TABLE_LINKS_JS))
    result.problems += overflow_problems(driver.execute_script(LAYOUT_JS))
    result.problems += markup_problems(driver.page_source, chapter=is_chapter(page))
    result.screenshots = save_screenshots(driver, screenshots, page)
    return result


def check_book(html: Path, toc: Path, screenshots: Path) -> list[PageResult]:
    """Load every page of the book; return what was wrong with each."""
    screenshots.mkdir(parents=True, exist_ok=True)
    with serve(html) as base:
        driver = _driver()
        try:
            return [check_page(driver, base, page, screenshots) for page in toc_pages(toc)]
        finally:
            driver.quit()


def main(argv: list[str] | None = None) -> int:
    """Check the book and print one line per page; exit 1 if any page has a problem."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument(
        "--screenshots", type=Path, default=None, help="default: <html>/../screenshots"
    )
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        print(f"{args.html}: no index.html; run `make book` first", file=sys.stderr)
        return 1
    screenshots = args.screenshots or args.html.parent / "screenshots"
    results = check_book(args.html, args.toc, screenshots)
    for result in results:
        status = "ok" if not result.problems else "FAIL"
        print(f"{status:4} {result.page}")
        for problem in result.problems:
            print(f"       {problem}")
        for note in result.notes:
            print(f"       (note) {note}")
    failed = sum(bool(r.problems) for r in results)
    print(f"{len(results)} pages checked, {failed} with problems; screenshots in {screenshots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
