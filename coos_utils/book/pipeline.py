"""Regenerate the book: run each chapter notebook with papermill, then render with Jupyter Book.

Chapters run in the order of :data:`coos_utils.book.chapters.CHAPTERS`. A chapter is rerun
only when one of its inputs changed: its jupytext source, its parameters, the data
fingerprint, the source of every package module it imports (followed through their own
imports; see :mod:`coos_utils.codehash`), or the result files of a chapter it reads, and
only when its results are marked ``complete`` in the results folder's ``provenance.json``.
The run (data, results folder, cache) is one :class:`~coos_utils.book.run_context.RunContext`,
made once; chapters execute in the project root and get its paths relative to that root, so
the rerun key watches the folder the results go to and no page shows a machine path.

A failing chapter never leaves a book or a results folder that looks complete: its entry in
``provenance.json`` is marked ``failed`` (one-line error, time), its stamp is removed so that
the next build reruns it, its executed copy is kept as ``<name>.failed.ipynb``, and its page
``book/_generated/<name>.ipynb`` is replaced by a page that says it failed on this run (no
tables or figures from it). Chapters that read a failed chapter are not run and get the same
treatment; the others still run, the html is rendered (showing the failures), and the build
ends with a :class:`BookBuildError` naming every failed chapter, its cell and error.

A run stopped by Ctrl-C or SIGTERM ends with :class:`RunInterrupted`: the chapter it stopped
is marked ``interrupted`` in ``provenance.json``, with the chapters of the run that had
completed, and is rerun by the next build; its page is left as it was. Each results folder
(data and profile) has its own stamps, which record the page they were made with, so that no
run touches another folder's stamps or results, and a page made for another folder is
rerun rather than shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager

from coos_utils.atomic import atomic_path, atomic_write_text
from coos_utils.book.chapters import BY_NAME, CHAPTERS, chapter, with_dependencies
from coos_utils.book.glance import write_glance
from coos_utils.book.parameters import chapter_parameters, check_given
from coos_utils.book.run_context import RunContext, make_run_context
from coos_utils.codehash import code_hash, notebook_modules, package_dir
from coos_utils.plugins import file_digest as plugin_file_digest
from coos_utils.presentation.published import write_published_results
from coos_utils.results.provenance import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    chapter_status,
    mark_chapter,
)
from coos_utils.stages import log_matmul_reference, stage

GENERATED = Path("book") / "_generated"


class BookBuildError(RuntimeError):
    """A chapter or the html build failed; the message says which and why."""


class ChapterFailed(BookBuildError):
    """One chapter failed; ``summary`` is the error in one line (``Type: message``)."""

    def __init__(self, name: str, summary: str, message: str) -> None:
        super().__init__(message)
        self.name, self.summary = name, summary


SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; ``str()`` says so in one line (what stopped, where it
    is recorded, what had completed) and ``exit_code`` is the shell's (130, 143)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(SIGNAL_NAMES[signum])
        self.signum, self.how = signum, SIGNAL_NAMES[signum]
        self.chapter: str | None = None
        self.folder: str | None = None
        self.completed: list[str] = []

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        if self.chapter is None:
            return f"interrupted by {self.how}; no chapter was running"
        done = ", ".join(self.completed) or "none"
        return (
            f"interrupted by {self.how} in chapter {self.chapter}, marked {INTERRUPTED} in "
            f"{self.folder}/provenance.json (completed before it: {done})"
        )


class StoppedKernelNoise(logging.Filter):
    """Drops asyncio's reports about the tasks of a kernel the run was told to stop: nbclient
    watches the kernel from tasks of its own, and when the kernel dies under a stop, the
    task that saw it die ends with ``DeadKernelError`` (or is destroyed still pending). Whether
    asyncio reports it depends on when the task is collected; the run's one line says what
    happened either way."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        dead_kernel = type(error).__name__ == "DeadKernelError"
        return not (dead_kernel or str(record.msg).startswith("Task was destroyed but it is"))


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block, Ctrl-C and SIGTERM raise :class:`RunInterrupted` once; further
    signals are ignored while it is recorded, and asyncio's reports about the stopped kernel
    are dropped from then on (:class:`StoppedKernelNoise`). Outside the main thread: no
    change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        for other in SIGNAL_NAMES:
            signal.signal(other, signal.SIG_IGN)
        asyncio_log = logging.getLogger("asyncio")
        if not any(isinstance(f, StoppedKernelNoise) for f in asyncio_log.filters):
            asyncio_log.addFilter(StoppedKernelNoise())
        raise RunInterrupted(signum)

    previous = {signum: signal.signal(signum, stop) for signum in SIGNAL_NAMES}
    try:
        yield
    except RunInterrupted:
        raise
    except KeyboardInterrupt:
        raise RunInterrupted(signal.SIGINT) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class BookLayout:
    """Where the book's sources and outputs live, relative to the project root."""

    root: Path

    @property
    def generated(self) -> Path:
        return self.root / GENERATED

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"


@dataclass
class BuildReport:
    """What a build did, chapter by chapter."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    html: Path | None = None


def chapter_sources(root: Path, names: list[str] | None = None) -> list[Path]:
    """The notebooks of the declared chapters (or of ``names``), in book order."""
    names = names if names is not None else [c.name for c in CHAPTERS]
    sources = [root / "notebooks" / f"{name}.md" for name in names]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise BookBuildError(f"declared chapters without a source: {', '.join(missing)}")
    return sources


def chapter_code_hash(source: Path, root: Path) -> str:
    """Hash of every package module the chapter imports (and the chapter setup imports), and of
    every Python file beside the chapter that its text names (a plug-in such as
    ``my_dg_method.py``) with the modules it imports from outside the installed packages, so
    editing a plug-in or one of its helpers reruns the chapter that runs it."""
    local = root / "coos_utils"
    text = source.read_text(encoding="utf-8")
    modules = notebook_modules(text) | {"coos_utils.book.context"}
    digest = hashlib.sha256(code_hash(modules, local if local.is_dir() else package_dir()).encode())
    for path in sorted(source.parent.glob("*.py")):
        if path.name in text:
            digest.update(f"\0{path.name}\0{plugin_file_digest(path)}".encode())
    return digest.hexdigest()


def outputs_hash(folder: Path, names: tuple[str, ...]) -> str:
    """Hash of the result files the chapters ``names`` declare as their outputs."""
    digest = hashlib.sha256()
    for name in names:
        for pattern in BY_NAME[name].writes:
            for path in sorted(folder.glob(pattern)):
                digest.update(f"{path.relative_to(folder)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def inputs_key(
    source: Path, parameters: dict, fingerprint: str, code: str, upstream: str = ""
) -> str:
    """Hash of everything a chapter's output depends on."""
    digest = hashlib.sha256(source.read_bytes())
    for part in (json.dumps(parameters, sort_keys=True), fingerprint, code, upstream):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _stamp_path(layout: BookLayout, folder: Path, name: str) -> Path:
    """The stamp of chapter ``name`` run into the results ``folder``: each folder (data and
    profile) has its own, so that no run touches another's."""
    where = folder.relative_to(layout.root) if folder.is_relative_to(layout.root) else folder
    return layout.generated / ".stamps" / _digest(where.as_posix().encode())[:16] / f"{name}.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _page_hash(layout: BookLayout, name: str) -> str | None:
    page = layout.generated / f"{name}.ipynb"
    return _digest(page.read_bytes()) if page.exists() else None


def is_up_to_date(layout: BookLayout, name: str, key: str, folder: Path) -> bool:
    """True when the chapter's page is the one its last run into ``folder`` made, that run
    had the same inputs, and its results in ``folder`` are marked complete (not failed,
    interrupted or left running)."""
    stamp = _stamp_path(layout, folder, name)
    page = _page_hash(layout, name)
    if page is None or not stamp.exists():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        same = recorded.get("key") == key and recorded.get("page") == page
        return same and chapter_status(folder, name) == COMPLETE
    except ValueError:  # a stamp or provenance.json that is not JSON
        return False


def execute_chapter(
    source: Path, layout: BookLayout, parameters: dict, public: Callable[[str], str]
) -> None:
    """Run one chapter with papermill into ``book/_generated/<name>.ipynb`` (atomically), made
    fit to be a page (:func:`make_page`, with ``public`` rewriting its text). The kernel's own
    messages go to ``book/_generated/<name>.kernel.log``, not to the terminal."""
    name = source.stem
    layout.generated.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3"})
    failed = layout.generated / f"{name}.failed.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        unexecuted, executed = Path(tmp) / f"{name}.ipynb", Path(tmp) / f"{name}.out.ipynb"
        nbformat.write(notebook, unexecuted)
        try:
            papermill.execute_notebook(
                str(unexecuted),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(layout.root),
                progress_bar=False,
                kernel_manager_class=_kernel_logged_to(layout.generated / f"{name}.kernel.log"),
            )
        except papermill.PapermillExecutionError as exc:
            shutil.copyfile(executed, failed)
            summary = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
            raise ChapterFailed(
                name,
                summary,
                f"chapter {source} failed in cell {exc.exec_count} "
                f"({exc.ename}: {exc.evalue}); executed copy kept in {failed}",
            ) from exc
        except Exception as exc:  # a dead kernel, a timeout: the chapter did not finish either
            if executed.exists():
                shutil.copyfile(executed, failed)
            summary = f"{type(exc).__name__}: {exc}"
            raise ChapterFailed(name, summary, f"chapter {source} failed ({summary})") from exc
        page = make_page(nbformat.read(executed, as_version=4), public)
        with atomic_path(layout.generated / f"{name}.ipynb") as output:
            nbformat.write(page, output)
    failed.unlink(missing_ok=True)


def _kernel_logged_to(log: Path) -> type[AsyncKernelManager]:
    """A kernel manager whose kernel writes its stderr (its warnings; its traceback when the
    run is stopped) to ``log``."""

    class LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            with log.open("w", encoding="utf-8") as stderr:
                await super().start_kernel(stderr=stderr, **kw)

    return LoggedKernelManager


def make_page(
    notebook: nbformat.NotebookNode, public: Callable[[str], str]
) -> nbformat.NotebookNode:
    """An executed chapter as the book shows it: the papermill-injected cell folded like the
    parameters cell, and every text (sources, outputs, metadata) rewritten by ``public`` so
    that no path of the machine that ran it appears (images are left as they are)."""
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]
    run = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):  # papermill's temporary copies
        if run.get(key):
            run[key] = Path(run[key]).name
    return _rewrite_text(notebook, public)


def _rewrite_text(node: Any, public: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return public(node)
    if isinstance(node, list):
        return [_rewrite_text(item, public) for item in node]
    if isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("image/"):
                node[key] = _rewrite_text(value, public)
    return node


PUBLISHED = {".csv", ".json", ".png", ".svg"}


def _not_published(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if Path(n).suffix and Path(n).suffix not in PUBLISHED]


def build_html(layout: BookLayout) -> Path:
    """Render the book with Jupyter Book into ``_build/html``, replacing it only on success;
    the results folders are published beside it (``_build/html/results/``) for the links
    under every table and figure."""
    with tempfile.TemporaryDirectory(dir=layout.root) as tmp:
        runner = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
        command = [sys.executable, "-c", runner, "build", str(layout.root), "--path-output", tmp]
        result = subprocess.run(command, capture_output=True, text=True)
        built = Path(tmp) / "_build" / "html"
        if result.returncode != 0 or not (built / "index.html").exists():
            raise BookBuildError(
                "jupyter-book build failed; the previous book is left in place:\n"
                + (result.stdout + result.stderr)[-4000:]
            )
        if layout.results.is_dir():
            shutil.copytree(layout.results, built / "results", ignore=_not_published)
        with atomic_path(layout.html, is_dir=True) as target:
            target.rmdir()
            shutil.move(str(built), target)
    return layout.html / "index.html"


def failure_page(name: str, summary: str, folder: str, not_run: bool = False) -> str:
    """The Markdown of the page that replaces a failed chapter's executed notebook."""
    what = "was not run" if not_run else "failed"
    error = summary.replace("`", "'")
    kept = "" if not_run else (
        f"The executed notebook, up to the failing cell, is kept as "
        f"`book/_generated/{name}.failed.ipynb`. "
    )  # fmt: skip
    return (
        f"# {BY_NAME[name].title}\n\n"
        f"```{{admonition}} This chapter {what} on this run\n:class: danger\n\n"
        f"This chapter {what} on this run: `{error}`\n\n"
        "No table or figure of this run is shown. The files the chapter left in its results "
        f"folder `{folder}` may be partial: its `provenance.json` marks the chapter as "
        f"`{FAILED}`, and the chapters that read these results refuse them. {kept}"
        "Fix the cause, then rebuild the book (`coos book`) or rerun the chapter "
        f"(`coos run {name}`).\n```\n"
    )


def record_failure(
    layout: BookLayout, run: RunContext, name: str, summary: str, not_run: bool = False
) -> None:
    """Mark ``name`` failed in ``provenance.json``, drop its stamp, show a failure page."""
    summary = run.public_text(summary)
    mark_chapter(run.folder, name, FAILED, summary)
    _stamp_path(layout, run.folder, name).unlink(missing_ok=True)
    folder = run.folder.relative_to(run.results_dir).as_posix()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(failure_page(name, summary, folder, not_run))]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    with atomic_path(layout.generated / f"{name}.ipynb") as output:
        nbformat.write(notebook, output)


def run_if_needed(
    source: Path,
    layout: BookLayout,
    parameters: dict,
    run: RunContext,
    report: BuildReport,
    log: Callable[[str], None] = print,
) -> None:
    """Execute one chapter unless its rerun key matches the last run's; record it in ``report``.

    A failure is recorded (:func:`record_failure`, ``report.failed``) and re-raised as
    :class:`ChapterFailed`; an interruption is recorded in ``provenance.json`` and re-raised
    as :class:`RunInterrupted`; the chapter is marked complete only after it finished.
    """
    name = source.stem
    upstream = outputs_hash(run.folder, BY_NAME[name].reads)
    code = chapter_code_hash(source, layout.root)
    key = inputs_key(source, parameters, run.fingerprint, code, upstream)
    if is_up_to_date(layout, name, key, run.folder):
        report.skipped.append(name)
        log(f"  {name}: up to date, not rerun")
        return
    log(f"  {name}: running ...")
    log_matmul_reference()  # only when the stage log is on (bench/bench_book.py)
    t0 = time.perf_counter()
    try:
        with stage("chapter", name):
            execute_chapter(source, layout, parameters, run.public_text)
    except ChapterFailed as exc:
        record_failure(layout, run, name, exc.summary)
        report.failed[name] = str(exc)
        log(f"  {name}: FAILED ({exc.summary})")
        raise
    except KeyboardInterrupt as exc:
        raise _record_interruption(layout, run, name, report, exc) from None
    mark_chapter(run.folder, name, COMPLETE)
    report.seconds[name] = time.perf_counter() - t0
    page = _page_hash(layout, name)
    stamp = {"key": key, "page": page, "code": code, "upstream": upstream, **parameters}
    atomic_write_text(_stamp_path(layout, run.folder, name), json.dumps(stamp, default=str))
    report.ran.append(name)
    log(f"  {name}: done in {report.seconds[name]:.0f} s")


def _record_interruption(
    layout: BookLayout, run: RunContext, name: str, report: BuildReport, exc: KeyboardInterrupt
) -> RunInterrupted:
    """Mark ``name`` interrupted in ``provenance.json`` with the chapters that completed;
    the :class:`RunInterrupted` to raise."""
    stopped = exc if isinstance(exc, RunInterrupted) else RunInterrupted(signal.SIGINT)
    completed = [n for n in BY_NAME if n in report.ran or n in report.skipped]
    mark_chapter(run.folder, name, INTERRUPTED, f"interrupted by {stopped.how}", completed)
    stopped.chapter, stopped.completed = name, completed
    stopped.folder = run.public(run.folder)
    return stopped


def base_parameters(run: RunContext) -> dict:
    """The parameters every chapter gets from the pipeline: the run's, with paths relative to
    the project root when inside it (chapters run there). A folder outside the project is
    given as it is, for the kernel to read; its page names it as ``<outside the project>/
    <name>`` (:func:`make_page`), so no page shows a machine path."""
    parameters = {
        "data_dir": run.public(run.data_path),
        "profile": run.profile.name,
        "seed": run.seed,
        "results_dir": run.public(run.results_dir),
    }
    if run.cache_dir is not None:
        parameters["cache_dir"] = run.public(run.cache_dir)
    return parameters


def build_book(
    profile: str = "default",
    data_dir: str | Path | None = None,
    seed: int = 0,
    root: str | Path = ".",
    html: bool = True,
    log: Callable[[str], None] = print,
    only: list[str] | None = None,
) -> BuildReport:
    """Run every chapter that needs it under ``profile``, then render the html book.

    ``only`` restricts the run to those chapters and the chapters they read. Ctrl-C or
    SIGTERM end it with :class:`RunInterrupted` (see the module docstring).
    """
    layout = BookLayout(Path(root).resolve())
    start = time.perf_counter()
    report = BuildReport()
    with stop_on_signals():
        run = make_run_context(data_dir, profile, seed, root=layout.root)
        parameters = base_parameters(run)
        names = with_dependencies(only) if only else None
        log(f"profile {profile}, data {run.data_path}")
        for source in chapter_sources(layout.root, names):
            _run_or_block(source, layout, parameters, run, report, log)
        write_glance(run, layout.generated)
        write_published_results(run.results_dir, layout.generated, run.folder)
        if html:
            t0 = time.perf_counter()
            log("rendering html with jupyter-book ...")
            with stage("render"):
                report.html = build_html(layout)
            log(f"html built in {time.perf_counter() - t0:.0f} s: {report.html}")
    log(f"book finished in {time.perf_counter() - start:.0f} s")
    if report.failed:
        failures = "\n".join(f"  {name}: {message}" for name, message in report.failed.items())
        raise BookBuildError(
            f"{len(report.failed)} chapter(s) failed on this run; the book shows them as "
            f"failed and their results are marked failed in provenance.json:\n{failures}"
        )
    return report


def _run_or_block(
    source: Path,
    layout: BookLayout,
    parameters: dict,
    run: RunContext,
    report: BuildReport,
    log: Callable[[str], None],
) -> None:
    """Run one chapter of a build; one that reads a failed chapter is not run but failed."""
    name = source.stem
    failed_reads = [r for r in BY_NAME[name].reads if r in report.failed]
    if failed_reads:
        summary = f"not run: it reads the results of {failed_reads[0]}, which failed"
        record_failure(layout, run, name, summary, not_run=True)
        report.failed[name] = summary
        log(f"  {name}: {summary}")
        return
    # a failure is recorded in report.failed; the build goes on with the chapters that can run
    with contextlib.suppress(ChapterFailed):
        run_if_needed(source, layout, parameters, run, report, log)


def run_chapter(
    name: str,
    given: dict,
    root: str | Path = ".",
    output: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> BuildReport:
    """Run one chapter with papermill under the book's rerun keys and results folders.

    ``given`` are papermill-style parameters, checked against the chapter's parameters cell
    (:class:`~coos_utils.book.parameters.ParameterError` names a bad one). The executed
    notebook is ``book/_generated/<name>.ipynb``, copied to ``output`` when given.
    """
    layout = BookLayout(Path(root).resolve())
    (source,) = chapter_sources(layout.root, [chapter(name).name])
    check_given(name, given, chapter_parameters(source))
    report = BuildReport()
    with stop_on_signals():
        run = make_run_context(
            given.get("data_dir"),
            given.get("profile", "default"),
            given.get("seed", 0),
            given.get("results_dir") or "results",
            given.get("cache_dir"),
            root=layout.root,
        )
        parameters = {**given, **base_parameters(run)}  # the rerun key watches its folders
        run_if_needed(source, layout, parameters, run, report, log)
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(layout.generated / f"{name}.ipynb", output)
        log(f"executed notebook copied to {output}")
    return report
