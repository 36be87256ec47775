"""The browser check's reading rules: judged on a hand-made chapter page (tests/book_pages) and
on variants that break one rule each; the layout rules in headless Chromium when it is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coos_utils.book import page_rules
from coos_utils.book.browser_check import (
    CHROMEDRIVER,
    CHROMIUM,
    WINDOW,
    check_book,
    is_chapter,
    screenshot_stem,
)
from coos_utils.book.page_rules import (
    absolute_paths,
    figure_problems,
    folding_problems,
    markup_problems,
    overflow_problems,
    parse,
    path_problems,
    summary_problems,
)

PAGE = Path(__file__).parent / "book_pages" / "chapter.html"


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_the_handmade_chapter_passes_every_markup_rule(page: str) -> None:
    assert markup_problems(page, chapter=True) == []
    assert len(page_rules.figures(parse(page))) == 3


@pytest.mark.parametrize(
    "text",
    [
        'data_dir = "/work/bk/main/data/synthetic/small_seed0"',
        "results in /home/ada/coos/results, then",
        "(/root/.cache/x)",
        "/tmp/pytest-1/fig.png",
        "/Users/ada/coos7",
        r"C:\Users\ada\coos7",
        "D:/data/coos7",
        "file:///srv/book/index.html",
        "cache_dir = '/scratch2/ada/cache'",
    ],
)
def test_absolute_paths_are_found(text: str) -> None:
    assert absolute_paths(text), text


@pytest.mark.parametrize(
    "text",
    [
        "https://example.org/home/ada/x and http://127.0.0.1:8000/tmp/y",
        "git+https://github.com/coos7-book/coos7-book",
        "../../results/synthetic-small-seed0/default/table3.csv",
        "./data/synthetic and results/home/x and data/synthetic/small_seed0",
        "train / test1 and 12/03/2019 and a ratio 1:/2",
        '"/" alone',
    ],
)
def test_urls_and_relative_paths_are_not_flagged(text: str) -> None:
    assert absolute_paths(text) == []


def test_a_machine_path_in_an_injected_cell_fails_naming_path_and_section(page: str) -> None:
    broken = page.replace('"data/synthetic/small_seed0"', '"/work/bk/main/data/synthetic/s0"')
    (problem,) = path_problems(parse(broken))
    assert "/work/bk/main/data/synthetic/s0" in problem
    assert "Classifiers on fixed features: Table 3" in problem


def test_a_machine_path_in_a_link_fails(page: str) -> None:
    broken = page.replace('href="../../results/table3.csv"', 'href="file:///home/a/t.csv"', 1)
    assert path_problems(parse(broken))


def test_scripts_are_not_page_text(page: str) -> None:
    assert "/home/builder/project" in page
    assert path_problems(parse(page)) == []


def test_a_figure_without_caption_fails_and_is_named(page: str) -> None:
    broken = page.replace("<strong>Figure 1.</strong>", "")
    assert figure_problems(parse(broken)) == [
        'figure 1 (in "Our Table 3") has no numbered caption ("Figure 1. ...")'
    ]


def test_an_unnumbered_caption_fails(page: str) -> None:
    broken = page.replace("<strong>Figure 2.</strong>", "<strong>Figure.</strong>")
    assert [p[:8] for p in figure_problems(parse(broken))] == ["figure 2"]


def test_a_caption_after_the_next_image_does_not_count(page: str) -> None:
    """Two images in one output and one caption after both: the first has none."""
    second = '<img alt="b.png" src="../../_images/errors.png">'
    broken = page.replace('width="400">\n<div class="output text_markdown">', f"> {second}", 1)
    assert [p[:8] for p in figure_problems(parse(broken))] == ["figure 1"]


def test_a_sphinx_figure_needs_its_number(page: str) -> None:
    broken = page.replace('<span class="caption-number">Fig. 3 </span>', "")
    assert [p[:8] for p in figure_problems(parse(broken))] == ["figure 3"]


def test_a_chapter_without_summary_fails(page: str) -> None:
    broken = page.replace("tag_chapter-summary", "tag_note")
    assert summary_problems(parse(broken)) == [
        "no opening summary (an element with class 'chapter-summary')"
    ]


def test_an_admonition_summary_passes(page: str) -> None:
    admonition = (
        '<div class="admonition chapter-summary"><p class="admonition-title">On this run</p>'
        "<p>DeepLoc is lowest on test3 (5.5%).</p></div>"
    )
    changed = page.replace("tag_chapter-summary", "tag_note").replace(
        '<section id="our-table-3">', admonition + '<section id="our-table-3">'
    )
    assert summary_problems(parse(changed)) == []


def test_a_summary_without_numbers_or_after_the_first_table_fails(page: str) -> None:
    no_number = page.replace("(5.5%) and test4 (8.9%)", "and test4").replace(
        "13.3% and 17.4%", "higher"
    )
    assert summary_problems(parse(no_number)) == [
        "the opening summary states no number from the run"
    ]
    summary_start = page.index('<div class="cell tag_chapter-summary')
    summary_end = page.index("<p>Code and data:")
    summary = page[summary_start:summary_end]
    late = page.replace(summary, "").replace(
        "</section>\n</section>", summary + "</section>\n</section>"
    )
    assert summary_problems(parse(late)) == [
        'the opening summary comes after the page\'s first heading "Our Table 3"'
    ]


def test_an_unfolded_code_cell_fails_and_is_named(page: str) -> None:
    broken = page.replace(
        '"cell tag_hide-input docutils container"', '"cell docutils container"', 1
    )
    assert folding_problems(parse(broken)) == [
        "1 code cell(s) not folded (tag hide-input or remove-input): `display(table3_view(result))`"
    ]


def test_the_parameters_cells_must_be_there_and_folded(page: str) -> None:
    """Item 13: the parameters cell and the papermill-injected one are folded like any code
    (the provenance line names the settings); the parameters cell must be there."""
    shown = page.replace("tag_parameters tag_hide-input docutils", "tag_parameters docutils")
    assert folding_problems(parse(shown)) == [
        "1 code cell(s) not folded (tag hide-input or remove-input): "
        "`data_dir = None  # None: synthetic`"
    ]
    injected = page.replace(
        "tag_injected-parameters tag_hide-input docutils", "tag_injected-parameters docutils"
    )
    assert folding_problems(parse(injected)) == [
        "1 code cell(s) not folded (tag hide-input or remove-input): `# Parameters`"
    ]
    missing = page.replace("tag_parameters tag_hide-input docutils", "tag_hide-input docutils")
    assert folding_problems(parse(missing)) == [
        "no parameters cell (a code cell tagged 'parameters')"
    ]


def test_a_redacted_path_outside_the_project_is_not_a_machine_path() -> None:
    """What the pipeline shows for a folder given outside the project passes the path rule;
    the path it replaces does not."""
    assert absolute_paths('data_dir = "<outside the project>/COOS7"') == []
    assert absolute_paths('data_dir = "/mnt/lab/COOS7"') == ["/mnt/lab/COOS7"]


def test_summary_and_folding_apply_to_chapters_only(page: str) -> None:
    bare = page.replace("tag_chapter-summary", "x").replace("tag_hide-input", "x")
    assert markup_problems(bare, chapter=False) == []
    assert len(markup_problems(bare, chapter=True)) == 2
    assert is_chapter("book/_generated/03_classifiers.html") and not is_chapter("book/intro.html")


def test_overflow_names_the_element_and_groups_repeats() -> None:
    layout = {
        "scrollWidth": 1400,
        "clientWidth": 1280,
        "items": [
            {"kind": "table", "label": "train", "section": "Beside", "width": 1152, "room": 688},
            {"kind": "pre", "label": "a", "section": "Training", "width": 700, "room": 664},
            {"kind": "pre", "label": "b", "section": "Training", "width": 807, "room": 664},
            {"kind": "image", "label": "x.png", "section": "Training", "width": 600, "room": 688},
        ],
    }
    assert overflow_problems(layout) == [
        "the page scrolls sideways: 1400 px of content in a 1280 px window",
        '1 table(s) in "Beside" wider than the column: "train" '
        "(widest 1152 px where the column gives 688 px)",
        '2 pre(s) in "Training" wider than the column: "a", "b" '
        "(widest 807 px where the column gives 664 px)",
    ]
    assert overflow_problems({"scrollWidth": 1280, "clientWidth": 1280, "items": []}) == []


def test_screenshot_names_follow_the_page_path() -> None:
    assert screenshot_stem("book/_generated/03_classifiers.html") == (
        "book___generated__03_classifiers"
    )


def _has_browser() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def _book(root: Path, page: str) -> tuple[Path, Path]:
    """A two-page book around the fixture: the chapter and a page with a wide table, a long
    code line and a block that makes the page scroll sideways."""
    from PIL import Image

    html = root / "html"
    (html / "book" / "_generated").mkdir(parents=True)
    (html / "_images").mkdir()
    (html / "results").mkdir()
    for name in ("errors", "heatmap", "confusion"):
        Image.new("RGB", (40, 30), "steelblue").save(html / "_images" / f"{name}.png")
    (html / "results" / "table3.csv").write_text("features,model\n")
    (html / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=book/intro.html" />'
    )
    shutil.copy(PAGE, html / "book" / "_generated" / "03_classifiers.html")
    wide = page.replace("<th>features</th>", '<th style="min-width: 1500px">Wide header</th>')
    wide = wide.replace('profile = "default"', 'profile = "default"' + "  # long" * 40)
    wide = wide.replace("</main>", '</main><div style="width: 1600px">footer</div>')
    (html / "book" / "intro.html").write_text(wide)
    toc = root / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/_generated/03_classifiers\n"
    )
    return html, toc


@pytest.mark.slow
@pytest.mark.skipif(not _has_browser(), reason="needs /usr/bin/chromium, chromedriver, selenium")
def test_chromium_measures_overflow_and_takes_screenshots(tmp_path: Path, page: str) -> None:
    from PIL import Image

    html, toc = _book(tmp_path, page)
    shots = tmp_path / "screenshots"
    results = {r.page: r for r in check_book(html, toc, shots)}
    assert results["book/_generated/03_classifiers.html"].problems == []
    wide = results["book/intro.html"].problems
    assert any(p.startswith("the page scrolls sideways") for p in wide), wide
    assert any('table(s) in "Our Table 3" wider than the column: "Wide header"' in p for p in wide)
    assert any('pre(s) in "Classifiers on fixed features: Table 3"' in p for p in wide), wide
    assert not any("written = run.files()" in p for p in wide), "folded code is not measured"
    first = Image.open(shots / "book___generated__03_classifiers.png")
    full = Image.open(shots / "book___generated__03_classifiers-full.png")
    assert first.size == WINDOW
    assert full.size[0] == WINDOW[0] and full.size[1] >= WINDOW[1]


def test_a_cell_rendered_without_input_counts_as_folded_but_hide_output_does_not(
    page: str,
) -> None:
    start = page.index('<div class="cell tag_hide-input docutils container">')
    end = page.index('<div class="cell_output', start)
    no_input = page[:start] + '<div class="cell docutils container">\n' + page[end:]
    assert folding_problems(parse(no_input)) == []
    hide_output = page.replace('"cell tag_hide-input docutils', '"cell tag_hide-output docutils', 1)
    assert len(folding_problems(parse(hide_output))) == 1
