"""One help style for every subcommand: each option says what it is, its unit and its default.

Subcommands of every layer (``auction``, ``compare``, ``bench``, ``dispute``, ...) build their
parsers with :class:`HelpFormatter` (or :class:`RawDescriptionHelpFormatter` for a description
laid out in paragraphs), print their tables with :func:`fit_table` and offer ``--wide`` through
:func:`add_wide_option`; ``tests/test_cli_help.py`` checks every registered subcommand: no
option left unexplained, every default given, help and default tables within 100 columns.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np
import pandas as pd

__all__ = [
    "WIDTH",
    "HelpFormatter",
    "RawDescriptionHelpFormatter",
    "add_wide_option",
    "fit_table",
    "number",
    "one_line_errors",
]

#: Columns the help and the default tables fit (``--wide`` prints tables whole).
WIDTH = 100


class HelpFormatter(argparse.HelpFormatter):
    """Wraps to :data:`WIDTH` columns and appends ``(default: X)`` to an option's help.

    The default is appended only where it says something: not for flags (``store_true``),
    not for ``None`` defaults, and not where the help already names its default. A default of
    ``0`` is shown (it is not a flag's ``False``).
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 30,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width=width or WIDTH)

    # names such as quantized-mlp or --cost-arities stay whole: wrap at spaces only
    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent,
                             subsequent_indent=indent, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "(default" not in text
            and action.default is not None
            and action.default is not False  # a flag; 0 and 0.0 are defaults worth showing
            and action.default != argparse.SUPPRESS
            and (action.option_strings or action.nargs in ("?", "*"))
        ):
            default = action.default
            if isinstance(default, (list, tuple)):
                default = ",".join(str(x) for x in default)
            text += f" (default: {str(default).replace('%', '%%')})"
        return text


class RawDescriptionHelpFormatter(HelpFormatter):
    """:class:`HelpFormatter` that keeps the description's own line breaks (paragraphs, lists);
    the description must then fit :data:`WIDTH` by itself."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def add_wide_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--wide``: print tables whole instead of fitting them into :data:`WIDTH` columns."""
    parser.add_argument(
        "--wide", action="store_true",
        help=f"print tables whole, however wide (default: fit {WIDTH} columns)",
    )


def fit_table(
    frame: pd.DataFrame,
    *,
    wide: bool = False,
    index: bool = False,
    float_format: Callable[[float], str] | None = "{:,.4g}".format,
    **kwargs: Any,
) -> str:
    """``frame`` as text in one notation (4 significant digits), in blocks of columns that fit
    :data:`WIDTH` unless ``wide`` (then whole, however wide); every row is shown."""
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        return frame.to_string(index=index, line_width=None if wide else WIDTH,
                               float_format=float_format, **kwargs)


def number(value: float) -> str:
    """One notation for every number a table shows: integers with thousands separators, else
    4 significant digits in positional notation (never an exponent), e.g. ``12,345``,
    ``3.142``, ``0.001825``, ``169,812``."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if value.is_integer():
        return f"{int(value):,}"
    digits = max(0, 3 - int(np.floor(np.log10(abs(value)))))
    return f"{value:,.{digits}f}"


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` and every subcommand under it report a bad argument as one line on
    stderr (``error: PROG: MESSAGE``, no usage block) with exit status 2."""

    def error(message: str, prog: str = parser.prog) -> NoReturn:
        print(f"error: {prog}: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                one_line_errors(sub)
