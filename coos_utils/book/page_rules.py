"""The book's reading rules, judged on a page's html or on layout numbers measured in a browser.

Pure functions with no browser: ``coos_utils.book.browser_check`` feeds them the rendered
page (its html and the widths it measured) and its module docstring states the markup each
rule expects. Each function returns a list of problems, empty when the page passes.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

# Top-level folders of machines' file systems (Linux, macOS, clusters). A path under one of
# them, not preceded by a word character, '.', '~', ':' or '/', is absolute: URLs
# (https://host/home/x) and relative links (../data/x, results/home/x) are not flagged.
MACHINE_ROOTS = (
    *("work", "home", "root", "tmp", "Users", "mnt", "opt", "var", "srv", "data", "scratch"),
    *("private", "media", "Volumes", "nfs", "gpfs", "lustre", "usr"),
)
_PATH_CHARS = r"[^\s\"'<>()\[\]{},;`]+"
ABSOLUTE_PATH = re.compile(
    rf"(?<![\w.~:/\\-])/(?:{'|'.join(MACHINE_ROOTS)})/{_PATH_CHARS}"  # /home/me/x
    rf"|(?<![\w/\\])[A-Za-z]:[\\/](?![\\/]){_PATH_CHARS}"  # C:\Users\me, D:/data
    rf"|\bfile:/{_PATH_CHARS}"  # file:///home/me/x
    r"|(?<=[\"'])/[\w.-]+/[\w./-]+(?=[\"'])"  # a quoted absolute path in code: "/x/y"
)
CAPTION = re.compile(r"^\s*(?:Figure|Fig\.)\s*\d+")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?!\w)")  # 5.5, 25; not test3 or FC2
SUMMARY_CLASSES = frozenset({"chapter-summary", "tag_chapter-summary"})
FOLDED_CLASSES = frozenset({"tag_hide-input", "tag_remove-input", "tag_hide-cell"})
PARAMETERS = "tag_parameters"
_SHOWN = 3  # examples of a repeated problem named in the report


def parse(html: str) -> BeautifulSoup:
    """The page's element tree, without scripts and styles (their text is not the page's)."""
    soup = BeautifulSoup(html, "html.parser")
    for node in soup.find_all(["script", "style", "noscript", "template"]):
        node.decompose()
    return soup


def article(soup: BeautifulSoup) -> Tag:
    """The main column: the theme's ``article.bd-article``, else ``main``, else the body."""
    return soup.select_one("article.bd-article") or soup.find("main") or soup.body or soup


def absolute_paths(text: str) -> list[str]:
    """Every absolute file path in ``text``, trailing punctuation removed, in order."""
    return [m.group().rstrip(".:") for m in ABSOLUTE_PATH.finditer(text)]


def path_problems(soup: BeautifulSoup) -> list[str]:
    """Absolute machine paths in the page's text or in its links and image sources, each
    with the section it first appears in."""
    found = absolute_paths(soup.get_text())
    for node in soup.find_all(href=True) + soup.find_all(src=True):
        found += absolute_paths(f" {node.get('href') or node.get('src')}")
    unique = list(dict.fromkeys(found))
    if not unique:
        return []
    shown = ", ".join(f'{path} (in "{_path_section(soup, path)}")' for path in unique[:_SHOWN])
    more = f" and {len(unique) - _SHOWN} more" if unique[_SHOWN:] else ""
    return [f"{len(unique)} absolute machine path(s) in the page: {shown}{more}"]


def _path_section(soup: BeautifulSoup, path: str) -> str:
    """The section of the first text or attribute holding ``path``."""
    node = soup.find(string=lambda s: path in s) or soup.find(
        lambda n: path in (n.get("href") or "") + (n.get("src") or "")
    )
    if node is None:
        return "(split across elements)"
    return section_of(node if isinstance(node, Tag) else node.parent)


def section_of(node: Tag) -> str:
    """The title of the innermost section holding ``node``, for reports."""
    section = node.find_parent("section")
    heading = section.find(re.compile(r"^h[1-6]$")) if section else None
    return heading.get_text().strip().rstrip("#").strip() if heading else "(no section)"


def _is_caption(node: Tag) -> bool:
    classes = node.get("class") or []
    is_candidate = node.name in ("p", "figcaption") or any("caption" in c for c in classes)
    return is_candidate and bool(CAPTION.match(node.get_text()))


def has_caption(img: Tag) -> bool:
    """Whether ``img`` has a numbered caption (the forms the module docstring of
    ``browser_check`` lists): its ``figure``'s ``figcaption``, a caption after it in the same
    cell before any other image, or, for the cell's last image, the paragraph after the cell."""
    figure = img.find_parent("figure")
    if figure and (caption := figure.find("figcaption")) and CAPTION.match(caption.get_text()):
        return True
    cell = img.find_parent(class_="cell") or img.find_parent(class_="cell_output")
    if cell is None:
        return False
    for node in img.find_all_next(True):
        if cell not in node.parents:
            break
        if node.name == "img":
            return False
        if _is_caption(node):
            return True
    after = cell.find_next_sibling(True)
    return after is not None and after.name == "p" and bool(CAPTION.match(after.get_text()))


def figures(soup: BeautifulSoup) -> list[Tag]:
    """The figures of the main column: images in cell outputs or in ``figure`` elements."""
    return [
        img
        for img in article(soup).find_all("img")
        if img.find_parent(class_="cell_output") or img.find_parent("figure")
    ]


def figure_problems(soup: BeautifulSoup) -> list[str]:
    """Figures without a numbered caption ('Figure N' or Sphinx's 'Fig. N')."""
    return [
        f'figure {k} (in "{section_of(img)}") has no numbered caption ("Figure {k}. ...")'
        for k, img in enumerate(figures(soup), start=1)
        if not has_caption(img)
    ]


def _classes(node: Tag) -> set[str]:
    return set(node.get("class") or [])


def summary_problems(soup: BeautifulSoup) -> list[str]:
    """A chapter opens with its answer: a ``chapter-summary`` element stating a number,
    before any table, figure or second-level heading of the page."""
    main = article(soup)
    marker = main.find(lambda node: bool(_classes(node) & SUMMARY_CLASSES))
    if marker is None:
        return ["no opening summary (an element with class 'chapter-summary')"]
    problems = []
    if not NUMBER.search(marker.get_text()):
        problems.append("the opening summary states no number from the run")
    before = [n for n in marker.find_all_previous(["table", "img", "h2"]) if main in n.parents]
    if before:
        first = before[-1]
        what = f'heading "{section_of(first)}"' if first.name == "h2" else first.name
        problems.append(f"the opening summary comes after the page's first {what}")
    return problems


def _first_line(cell: Tag) -> str:
    code = cell.find("pre")
    lines = [line for line in (code.get_text() if code else "").splitlines() if line.strip()]
    return lines[0].strip()[:60] if lines else ""


def folding_problems(soup: BeautifulSoup) -> list[str]:
    """Every code cell is folded (hide-input, remove-input or hide-cell), the parameters
    cell and the papermill-injected one too (the provenance line names the settings); the
    parameters cell must be there."""
    cells = article(soup).select("div.cell")
    parameters = [c for c in cells if PARAMETERS in _classes(c)]
    problems = [] if parameters else ["no parameters cell (a code cell tagged 'parameters')"]
    unfolded = [
        f"`{_first_line(c)}`"
        for c in cells
        if not _classes(c) & FOLDED_CLASSES and c.find(class_="cell_input")
    ]
    if unfolded:
        more = f" and {len(unfolded) - _SHOWN} more" if unfolded[_SHOWN:] else ""
        problems.append(
            f"{len(unfolded)} code cell(s) not folded (tag hide-input or remove-input): "
            + ", ".join(unfolded[:_SHOWN])
            + more
        )
    return problems


def overflow_problems(layout: dict) -> list[str]:
    """Sideways scrolling of the page and elements wider than the room the column gives them,
    one line per kind of element and section.

    ``layout`` holds ``scrollWidth`` and ``clientWidth`` of the document and ``items``: one
    dict per visible table, pre and img of the main column with ``kind``, ``label``,
    ``section``, ``width`` (its content's width) and ``room`` (the width it may take), in px.
    """
    problems = []
    if layout["scrollWidth"] > layout["clientWidth"] + 1:
        problems.append(
            f"the page scrolls sideways: {layout['scrollWidth']} px of content in a "
            f"{layout['clientWidth']} px window"
        )
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in layout["items"]:
        if item["width"] > item["room"] + 1:
            groups.setdefault((item["kind"], item["section"]), []).append(item)
    for (kind, section), items in groups.items():
        widest = max(items, key=lambda i: i["width"] - i["room"])
        labels = ", ".join(f'"{i["label"]}"' for i in items[:_SHOWN])
        more = f" and {len(items) - _SHOWN} more" if items[_SHOWN:] else ""
        problems.append(
            f'{len(items)} {kind}(s) in "{section}" wider than the column: {labels}{more} '
            f"(widest {round(widest['width'])} px where the column gives "
            f"{round(widest['room'])} px)"
        )
    return problems


def markup_problems(html: str, chapter: bool) -> list[str]:
    """Every rule judged on html alone: paths and captions on all pages; the opening summary
    and folded code on chapter pages."""
    soup = parse(html)
    problems = path_problems(soup) + figure_problems(soup)
    if chapter:
        problems += summary_problems(soup) + folding_problems(soup)
    return problems
