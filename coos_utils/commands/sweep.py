"""``coos sweep``: chapter 05's DG sweep from the command line, into a results folder of its own.

The search is the chapter's (:func:`coos_utils.dg.sweep.run_search`: every hyperparameter
draw of every method on the first seed, then the draw chosen on training-domain validation on
the other seeds); each setting not given comes from the profile's ``dg`` block
(:func:`coos_utils.dg.chapter.search_settings`). It writes ``<results-dir>/<data-id>/<name>/``:
``dg.csv`` and ``dg_vs_erm.csv`` (chapter 05's tables, from the same functions),
``records.csv`` (one row per trial, split and metric) and ``provenance.json`` (entry
:data:`SWEEP`: the settings, the data, the code; status complete, failed or interrupted), a
folder that ``coos results collect`` reads.

Each trial keeps its record and a done marker in the cache, so running the same command again
trains only the trials that are missing: that is how an interrupted sweep (Ctrl-C: recorded
``interrupted``, one line said) is finished. The folder's default name is
``sweep-<digest of the settings>``, so that different settings never share a folder; a
``--name`` folder made with other settings, or by anything but ``coos sweep``, is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coos_utils.commands.common import PROFILE_NAMES, add_data_options, folder, seed

if TYPE_CHECKING:
    from coos_utils.book.run_context import RunContext

SWEEP = "sweep"
"""The entry ``coos sweep`` records under ``chapters`` in ``provenance.json``."""
INTERRUPTED_EXIT = 130
"""The exit code after Ctrl-C (128 + SIGINT), as a shell reports it."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive {kind.__name__}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _checked(check: Any, text: str) -> str:
    """``text`` if ``check(text)`` accepts it; its one-line refusal as an argparse error."""
    try:
        check(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def method(text: str) -> str:
    """A DG method: a built-in or entry-point name, or a plug-in spec (checked by loading it)."""
    from coos_utils.dg.algorithms import method_name

    return _checked(method_name, text)


def backbone(text: str) -> str:
    """A backbone: a built-in name, ``file.py:make``, ``module:make`` or an entry point."""
    from coos_utils.dg.backbones import backbone_spec

    return _checked(backbone_spec, text)


def folder_name(text: str) -> str:
    """A results folder's name: one path part, not a profile's (the chapters write there)."""
    if not _NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a folder name (letters, digits, '.', '_', '-'; no '/')"
        )
    if text in PROFILE_NAMES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is the chapters' folder of that profile; choose another name"
        )
    return text


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        SWEEP,
        help="the DG sweep (chapter 05's search) into a results folder; a rerun finishes it",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    add_data_options(
        p,
        profile_help="defaults for every setting not given (the profile's DG block), the "
        "number of bootstrap samples and, without --data-dir, the synthetic data's scale",
        data_help="the data: the real COOS-7 (HDF5 files or TIFF folders) or any folder in "
        "that format (default: the profile's synthetic data, simulated on first use)",
        seed_help="seed of the synthetic data (the trials' seeds are --seeds)",
    )
    s = p.add_argument_group("the search (default: the profile's)")
    s.add_argument(
        "--methods",
        nargs="+",
        type=method,
        metavar="METHOD",
        help="DG methods: built-in names (ERM, CORAL, ...), installed entry points, or "
        "plug-ins as module:Class or path/to/file.py:Class",
    )
    s.add_argument(
        "--draws",
        type=_positive(int),
        help="hyperparameter draws per method, on the first seed (draw 0: the defaults)",
    )
    s.add_argument(
        "--seeds",
        nargs="+",
        type=seed,
        metavar="SEED",
        help="trial seeds; the draw chosen on the first is trained on the others",
    )
    s.add_argument("--steps", type=_positive(int), help="training steps of each trial")
    s.add_argument("--batch-size", type=_positive(int), help="images per training step")
    s.add_argument(
        "--eval-every",
        type=_positive(int),
        help="steps between validation scores (the best-scored weights are kept)",
    )
    s.add_argument(
        "--max-val-images",
        type=_positive(int),
        help="at most this many held-out train images scored at each validation",
    )
    s.add_argument("--width", type=_positive(float), help="network width (1.0: full size)")
    s.add_argument(
        "--backbone",
        type=backbone,
        help="the network: deeploc, small_cnn, path/to/file.py:make or module:make "
        "(default: deeploc)",
    )
    w = p.add_argument_group("where the trials run and the results go")
    w.add_argument(
        "--results-dir",
        type=folder,
        default=Path("results"),
        help="results folders' root: writes <results-dir>/<data-id>/<name>/ (default: results)",
    )
    w.add_argument(
        "--name",
        type=folder_name,
        help="the results folder's name (default: sweep-<digest of the settings>)",
    )
    w.add_argument(
        "--cache-dir",
        type=folder,
        default=None,
        help="where finished trials are kept, each once, for reruns (default: ./.cache/dg)",
    )
    w.add_argument(
        "--workers",
        type=_positive(int),
        default=2,
        help="worker processes of the local dask cluster (one per GPU where there are "
        "GPUs) (default: %(default)s)",
    )
    where = w.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the trials on this dask.distributed scheduler (e.g. tcp://host:8786)",
    )
    where.add_argument(
        "--serial", action="store_true", help="run the trials one by one in this process"
    )
    p.set_defaults(handler=run)


def resolved_settings(args: argparse.Namespace, context: RunContext) -> dict[str, Any]:
    """The search's settings: the options given, else the profile's."""
    from coos_utils.dg.chapter import search_settings

    given = {
        "methods": args.methods,
        "n_draws": args.draws,
        "seeds": args.seeds,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "eval_every": args.eval_every,
        "max_val_images": args.max_val_images,
        "width": args.width,
        "backbone": args.backbone,
    }
    return search_settings(context.profile.dg, **given)


def recorded_settings(settings: dict[str, Any], context: RunContext) -> dict[str, Any]:
    """``settings`` as ``provenance.json`` keeps them (JSON values, plug-in files relative
    to the project), with the profile, whose bootstrap size the tables use."""
    from coos_utils.plugins import is_spec, normalise

    def shown(spec: str) -> str:
        return context.public_text(normalise(spec)) if is_spec(spec) else spec

    record = {**settings, "profile": context.profile.name}
    record["methods"] = [shown(m) for m in settings["methods"]]
    record["backbone"] = shown(settings["backbone"])
    return json.loads(json.dumps(record))


def default_name(recorded: dict[str, Any]) -> str:
    """``sweep-<8 hex>``: a digest of the recorded settings."""
    text = json.dumps(recorded, sort_keys=True)
    return f"{SWEEP}-{hashlib.blake2b(text.encode(), digest_size=4).hexdigest()}"


def refuse_other_folder(path: Path, recorded: dict[str, Any]) -> None:
    """A ``CoosDataError`` naming ``path`` when it exists and was not made by ``coos sweep``
    with the settings ``recorded``."""
    from coos_utils.data.errors import CoosDataError
    from coos_utils.results.collect import read_record
    from coos_utils.results.provenance import PROVENANCE

    if not path.exists():
        return
    if not (path / PROVENANCE).is_file():
        if path.is_dir() and not any(path.iterdir()):
            return
        raise CoosDataError(path, f"exists and has no {PROVENANCE}; choose another --name")
    runs = read_record(path).get("chapters", {})
    others = sorted(set(runs) - {SWEEP})
    if others or SWEEP not in runs:
        raise CoosDataError(
            path,
            f"holds the results of {', '.join(others)}, not of coos sweep; choose another --name",
        )
    before = runs[SWEEP].get("parameters", {})
    changed = sorted(k for k in {*before, *recorded} if before.get(k) != recorded.get(k))
    if changed:
        raise CoosDataError(
            path,
            f"was made by coos sweep with other settings ({', '.join(changed)} differ); "
            "choose another --name, or leave it out to get a folder of its own",
        )


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.run_context import make_run_context
    from coos_utils.codehash import code_hash
    from coos_utils.dg.chapter import SEARCH_KEYS, sweep_tables
    from coos_utils.dg.sweep import make_sweep, run_search
    from coos_utils.results.provenance import (
        COMPLETE,
        FAILED,
        INTERRUPTED,
        mark_chapter,
        record_run,
    )
    from coos_utils.results.store import write_csv

    context = make_run_context(
        args.data_dir, args.profile, args.seed, args.results_dir, args.cache_dir
    )
    settings = resolved_settings(args, context)
    recorded = recorded_settings(settings, context)
    out = context.results_dir / context.data_id / (args.name or default_name(recorded))
    refuse_other_folder(out, recorded)
    trial = {key: value for key, value in settings.items() if key not in SEARCH_KEYS}
    make_sweep(context.data_path, settings["methods"], 1, settings["seeds"][:1], **trial)
    out.mkdir(parents=True, exist_ok=True)  # the settings are valid: a folder to record them
    record_run(out, SWEEP, context.data_record(), context.profile.name, recorded, code_hash())
    try:
        records = run_search(
            context.data_path,
            context.trials_dir,
            scheduler=args.scheduler,
            n_workers=args.workers,
            serial=args.serial,
            progress=not args.quiet,
            **settings,
        )
        tables = sweep_tables(records, context.profile.bootstrap_samples)
        written = [write_csv(table, out / name) for name, table in tables.items()]
    except KeyboardInterrupt:
        mark_chapter(out, SWEEP, INTERRUPTED, "stopped by Ctrl-C")
        print(
            f"coos sweep: interrupted; the finished trials are kept: run the same command "
            f"again to train the rest and write {out}",
            file=sys.stderr,
        )
        return INTERRUPTED_EXIT
    except Exception as exc:
        mark_chapter(out, SWEEP, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    mark_chapter(out, SWEEP, COMPLETE)
    print(_shown(out, context.label))
    print(f"wrote {len(written) + 1} files under {out}")
    return 0


def _shown(out: Path, label: str) -> str:
    """The folder's balanced errors as ``coos results collect`` shows them."""
    from coos_utils.presentation.comparison import to_markdown
    from coos_utils.results.collect import folder_rows, wide

    table = wide(folder_rows(out)).drop(columns=["source", "features"])
    return f"DG sweep, balanced error % ({label})\n\n{to_markdown(table)}"
