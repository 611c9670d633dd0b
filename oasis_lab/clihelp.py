"""One help style, one set of argument types and one table notation for every subcommand.

Subcommands of every layer (``auction``, ``compare``, ``bench``, ``dispute``, ...) build their
parsers with :class:`HelpFormatter` (or :class:`RawDescriptionHelpFormatter` for a description
laid out in paragraphs), read their arguments with the types here (:func:`integer`,
:func:`real`, :data:`seed`, :func:`integers`, :func:`names`, :func:`checked`: each refuses a bad
value while parsing, in one line naming the argument), print their tables with
:func:`fit_table` (numbers in the one notation of :func:`oasis_lab.plotting.format_number`)
and offer ``--wide`` through :func:`add_wide_option`;
``tests/test_cli_help.py`` checks every registered subcommand: no option left unexplained,
every default given, help and default tables within 100 columns.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import pandas as pd

from oasis_lab.checks import check_int, check_real
from oasis_lab.plotting import format_number
from oasis_lab.seeding import check_seed

__all__ = [
    "WIDTH",
    "HelpFormatter",
    "RawDescriptionHelpFormatter",
    "add_wide_option",
    "checked",
    "fit_table",
    "integer",
    "integers",
    "names",
    "one_line_errors",
    "real",
    "seed",
]

T = TypeVar("T")

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


# --- argument types: each runs while parsing, before any work, and names its argument -------

def checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a check of the text: the ``ValueError`` / ``TypeError`` it raises
    becomes argparse's one-line error (``argument --x: MESSAGE``) instead of "invalid value".

    Examples
    --------
    >>> checked(int)("12")
    12
    """

    def parse(text: str) -> T:
        try:
            return check(text)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is None and maximum is None:
        return ""
    if maximum is None:
        return f" >= {minimum}"
    return f" <= {maximum}" if minimum is None else f" in [{minimum}, {maximum}]"


def _integer(name: str, text: str, minimum: int | None, maximum: int | None) -> int:
    try:
        value = int(text)
    except ValueError:  # not an integer, or more digits than Python converts
        raise ValueError(f"{name} = {text[:40]!r} is not an integer{_bounds(minimum, maximum)}") from None
    return check_int(name, value, minimum, maximum)


def integer(name: str, minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a decimal integer in ``[minimum, maximum]``.

    Examples
    --------
    >>> integer("tasks", 1)("12")
    12
    >>> integer("tasks", 1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: tasks = 0 must be >= 1
    >>> integer("arity", 2, 64)("two")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: arity = 'two' is not an integer in [2, 64]
    """
    return checked(lambda text: _integer(name, text, minimum, maximum))


def real(name: str, *, minimum: float | None = None, maximum: float | None = None,
         positive: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite real number in ``[minimum, maximum]`` (``> 0`` if
    ``positive``).

    Examples
    --------
    >>> real("timeout", positive=True)("2.5")
    2.5
    >>> real("atol", minimum=0)("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: atol = -1.0 must be >= 0
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} = {text[:40]!r} is not a number") from None
        return check_real(name, value, positive=positive, minimum=minimum, maximum=maximum)

    return checked(parse)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"seed = {text[:40]!r} is not an integer in [0, 2**128 - 1]") from None
    return check_seed(value)


#: An argparse ``type``: a root seed, an integer in ``[0, 2**128 - 1]``
#: (:func:`oasis_lab.seeding.check_seed`, the limit of every seeded entry point).
seed: Callable[[str], int] = checked(_seed)


def integers(name: str, minimum: int | None = None) -> Callable[[str], list[int]]:
    """An argparse ``type``: a comma-separated list of integers, each ``>= minimum``.

    Examples
    --------
    >>> integers("sizes", 1)("100,1000")
    [100, 1000]
    >>> integers("sizes", 1)("100,0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: sizes[1] = 0 must be >= 1
    """

    def parse(text: str) -> list[int]:
        parts = [x.strip() for x in text.split(",") if x.strip()]
        if not parts:
            raise ValueError(f"{name} = {text!r} lists no integer")
        return [_integer(f"{name}[{i}]", x, minimum, None) for i, x in enumerate(parts)]

    return checked(parse)


def names(kind: str, known: Sequence[str] | None = None) -> Callable[[str], list[str]]:
    """An argparse ``type``: a comma-separated list of names, at least one.

    With ``known``, each name must be one of them and ``all`` stands for every one; without,
    any non-empty names pass (the caller checks them against what it finds later).

    Examples
    --------
    >>> names("scenario", ["balanced", "scarce_supply"])("all")
    ['balanced', 'scarce_supply']
    >>> names("notebook")("")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: '' names no notebook
    """

    def parse(text: str) -> list[str]:
        if known is not None and text == "all":
            return list(known)
        listed = [x.strip() for x in text.split(",")]
        if not any(listed) or (known is None and not all(listed)):
            raise ValueError(f"{text!r} names no {kind}" if not any(listed)
                             else f"{text!r} has an empty {kind} name")
        chosen = [x for x in listed if x]
        if known is not None:
            bad = [n for n in chosen if n not in known]
            if bad:
                raise ValueError(f"unknown {kind} {bad}; choose among {list(known)} or 'all'")
        return chosen

    return checked(parse)


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
    float_format: Callable[[float], str] | None = format_number,
    **kwargs: Any,
) -> str:
    """``frame`` as text in one notation (:func:`oasis_lab.plotting.format_number`: thousands
    separators, 4 significant digits, no exponent), in blocks of columns that fit
    :data:`WIDTH` unless ``wide`` (then whole, however wide); every row is shown.

    Examples
    --------
    >>> print(fit_table(pd.DataFrame({"welfare": [123456.7, 2e-7]})))
      welfare
      123,457
    0.0000002
    """
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        return frame.to_string(index=index, line_width=None if wide else WIDTH,
                               float_format=float_format, **kwargs)


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
