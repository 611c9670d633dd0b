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
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    import pandas as pd

# Nothing heavy at import: ``python -m oasis_lab --help`` and every subcommand's ``--help``
# import this module, so numpy and pandas are imported where a value is checked or a table
# printed, not here.

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
    from oasis_lab.checks import check_int

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
        from oasis_lab.checks import check_real

        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} = {text[:40]!r} is not a number") from None
        return check_real(name, value, positive=positive, minimum=minimum, maximum=maximum)

    return checked(parse)


def _seed(text: str) -> int:
    from oasis_lab.seeding import check_seed

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


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _labels(frame: pd.DataFrame) -> list[Any]:
    """The leading columns that name a row (text, not numbers or flags): repeated in every block
    of a table too wide for :data:`WIDTH`; the first column when none is text."""
    import pandas as pd

    labels: list[Any] = []
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            break
        labels.append(column)
    return labels or list(frame.columns[:1])


def fit_table(
    frame: pd.DataFrame,
    *,
    wide: bool = False,
    index: bool = False,
    keys: Sequence[Any] | None = None,
    float_format: Callable[[float], str] | None = None,
    **kwargs: Any,
) -> str:
    """``frame`` as text in one notation (:func:`oasis_lab.plotting.format_number`: thousands
    separators, 4 significant digits; integer counts too, :func:`oasis_lab.plotting.count_columns`)
    fitting :data:`WIDTH` columns unless ``wide`` (then whole, however wide); every row is shown.

    A table wider than :data:`WIDTH` is printed in blocks of columns, one under the other, each
    block repeating what names the rows: the index (``index=True``), else ``keys``, else the
    leading text columns (a case's name, a model's), else the first column. No row is cut in
    two with a ``\\`` and no block loses the row names.

    Examples
    --------
    >>> import pandas as pd
    >>> print(fit_table(pd.DataFrame({"welfare": [123456.7, 2e-7], "served": [10989, 7]})))
      welfare served
      123,457 10,989
    0.0000002      7
    >>> wide = pd.DataFrame({"case": ["matmul/normal", "exp/subnormal"],
    ...                      **{f"engine {k} differing outputs": [k, 0] for k in range(4)}})
    >>> print(fit_table(wide))
             case engine 0 differing outputs engine 1 differing outputs engine 2 differing outputs
    matmul/normal                          0                          1                          2
    exp/subnormal                          0                          0                          0
    <BLANKLINE>
             case engine 3 differing outputs
    matmul/normal                          3
    exp/subnormal                          0
    """
    import pandas as pd

    from oasis_lab.plotting import count_columns, format_number

    shown = frame
    given = kwargs.pop("formatters", None) or {}
    # integer counts with separators (pandas applies float_format to float columns only)
    formatters = {**{c: format_number for c in count_columns(frame)}, **given}

    def render(part: pd.DataFrame) -> str:
        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.max_colwidth", None):
            return part.to_string(index=index, line_width=None, float_format=float_format or format_number,
                                  formatters={c: f for c, f in formatters.items() if c in part.columns},
                                  **kwargs)

    text = render(shown)
    if wide or _width(text) <= WIDTH or shown.shape[1] <= 1:
        return text
    names = [] if index else list(keys) if keys is not None else _labels(frame)
    rest = [c for c in shown.columns if c not in names]
    blocks: list[list[Any]] = [[]]
    for column in rest:
        # greedy: a column joins the current block while the block still fits
        if blocks[-1] and _width(render(shown[names + blocks[-1] + [column]])) > WIDTH:
            blocks.append([])
        blocks[-1].append(column)
    return "\n\n".join(render(shown[names + block]) for block in blocks)


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
