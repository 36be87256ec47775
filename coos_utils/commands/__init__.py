"""The ``coos`` command: data conversion, download, simulation, features, tables, the book.

One module per command (:data:`COMMANDS`), each a thin layer over the package: its options
(``add_parser``) and a handler that imports the library only when it runs, so that
``coos --help`` and a refused argument answer at once. A new command is one module here with
``add_parser(subparsers)`` and one name in :data:`COMMANDS`.

Bad input ends with one line on stderr, ``coos <command>: error: <message>`` naming the
parameter or the file, and exit code 2: argparse's checks (argument types in
:mod:`~coos_utils.commands.common`), the package's ``ValueError``s (:class:`CoosDataError`,
``ParameterError``, ...) and ``OSError``s about a named file. Any other exception is a bug and
keeps its traceback; set ``COOS_TRACEBACK=1`` to see the traceback of the one-line errors too.
Output cut short by its reader (``coos results | head``) ends quietly.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib import import_module

from coos_utils.commands.common import Parser

COMMANDS = (
    "unpack",
    "pack",
    "download",
    "weights",
    "simulate",
    "book",
    "run",
    "params",
    "install_cells",
    "publish",
    "features",
    "table3",
    "evaluate",
    "sweep",
    "results",
)
"""The modules of :mod:`coos_utils.commands`, one a command, in the order ``--help`` lists them."""


def parser() -> Parser:
    """The ``coos`` parser, each command's options added by its module."""
    top = Parser(prog="coos", description=__doc__.split("\n\n")[0].replace("``", ""))
    top.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        import_module(f"{__name__}.{name}").add_parser(sub)
    return top


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _message(exc: BaseException) -> str:
    """The message of ``exc`` in one line; an ``OSError`` as ``<file>: <what happened>``."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return _one_line(str(exc))


def _is_user_error(exc: BaseException) -> bool:
    """Bad input rather than a bug: a ``ValueError`` (the package's way of refusing input)
    or an ``OSError`` about a named file (exists, is not a folder, permission, disk full)."""
    return isinstance(exc, ValueError) or (isinstance(exc, OSError) and exc.filename is not None)


def _warning_printer(command: str) -> Callable[..., None]:
    """``warnings.showwarning`` that prints ``coos <command>: warning: <message>``, one line."""

    def show(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> None:
        print(f"coos {command}: warning: {_one_line(str(message))}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit raises no second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``coos`` command line; bad input ends with a one-line message, exit code 2."""
    args = parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(args.command)
        try:
            code = args.handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return code
        except BrokenPipeError:  # the reader went away (`coos ... | head`): nothing to say
            _silence_stdout()
            return 0
        except (ValueError, OSError) as exc:
            if not _is_user_error(exc) or os.environ.get("COOS_TRACEBACK"):
                raise
            print(f"coos {args.command}: error: {_message(exc)}", file=sys.stderr)
            return 2
