"""One figure and table style for every notebook: call :func:`use_style` once, at the top.

Figures use the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), whose eight
colours stay distinct under the common colour-vision deficiencies, as matplotlib's colour
cycle, and ``cividis`` (perceptually uniform, colour-blind safe) as the default colour map.
Tables print numbers in one notation, :func:`format_number` (the notebooks' tables and
figures, every CLI table through :func:`oasis_lab.clihelp.fit_table`): integral numbers as
integers with thousands separators (a count of 10176 must not read ``1.017600e+04``, an integer
column of counts ``10989`` beside ``10,176``: :func:`readable`), other numbers with four
significant digits in positional notation, magnitudes below 10⁻⁹ or from 10¹⁵ up as
``m.mmm × 10ⁿ``; tables show every row and column up to :data:`MAX_ROWS` rows, so that no claim
rests on rows pandas elides.

This module only styles; it computes nothing a figure shows (the layers above do).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import pandas as pd

__all__ = ["IDENTIFIERS", "OKABE_ITO", "MAX_ROWS", "count_columns", "format_number", "integer_counts",
           "plain_log_ticks", "readable", "use_style", "vertical"]

#: The Okabe-Ito palette in its usual order (black last: it is for reference lines).
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "sky blue": "#56B4E9",
    "reddish purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Tables up to this many rows print whole; a longer table is a figure's job.
MAX_ROWS = 120


#: Below this magnitude (float noise, tiny probabilities) and from :data:`_LARGE` up (beyond any
#: count), a number is written ``m.mmm × 10ⁿ``: positional it would read as 0.0000000000000001571
#: or as a 28-digit integer.
_TINY = 1e-9
_LARGE = 1e15
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(v: float) -> str:
    exponent = math.floor(math.log10(abs(v)))
    mantissa = v / 10.0**exponent
    if abs(float(f"{mantissa:.4g}")) >= 10:  # 9.99996 rounds up to 10
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.4g} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def format_number(value: Any) -> str:
    """Format one number for a table, a figure or the CLI: the one notation of the package.

    Integral values as integers with thousands separators; other values with four significant
    digits (at least: a value of 1,000 or more keeps every digit before the point) in
    positional notation with thousands separators, trailing zeros dropped; a float whose
    magnitude is below 10⁻⁹ (float noise, a tiny probability) or from 10¹⁵ up (no count reaches
    it) as ``m.mmm × 10ⁿ``, never as ``1.571e-16``; NaN as ``NaN``; anything that is not a real
    number (``bool`` included) as ``str`` gives it. Integers (Python's or numpy's) are exact
    counts and keep every digit.

    Examples
    --------
    >>> format_number(10176.0), format_number(0.123456), format_number(123456.7), format_number(2e-7)
    ('10,176', '0.1235', '123,457', '0.0000002')
    >>> format_number(0.5), format_number(-0.0018249), format_number(float("nan")), format_number("x")
    ('0.5', '-0.001825', 'NaN', 'x')
    >>> format_number(1.571e-16), format_number(3.4028e27), format_number(0.0)
    ('1.571 × 10⁻¹⁶', '3.403 × 10²⁷', '0')
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return str(v)
    if v != 0 and not (_TINY <= abs(v) < _LARGE):
        return _power_of_ten(v)
    if v.is_integer():
        return f"{int(v):,}"
    # digits after the point for four significant ones (none from 1,000 up)
    digits = max(0, 3 - math.floor(math.log10(abs(v))))
    return f"{v:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:,.0f}"


#: Integer columns that are names, not quantities: printed as they are (no thousands separators).
IDENTIFIERS = frozenset({"seed", "task", "provider", "node", "agent", "point", "draw", "round", "pid",
                         "id", "index", "type", "year", "market", "rank", "case"})


def _is_count(frame: pd.DataFrame, column: Any) -> bool:
    name = str(column).lower()
    dtype = frame[column].dtype
    return (pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            and name not in IDENTIFIERS and not name.endswith(("_id", "_seed", "_index")))


def count_columns(frame: pd.DataFrame) -> list[Any]:
    """The integer columns of ``frame`` that hold quantities (not :data:`IDENTIFIERS`)."""
    return [c for c in frame.columns if _is_count(frame, c)]


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its integer count columns written as :func:`format_number` writes them.

    pandas applies ``display.float_format`` to float columns only: an integer column of counts
    printed ``10989`` beside ``10,176``. Identifier columns (:data:`IDENTIFIERS`, ``*_id``,
    ``*_seed``) stay as they are. Used by the notebooks' table display (:func:`use_style`) and
    the CLI tables (:func:`oasis_lab.clihelp.fit_table`).

    Examples
    --------
    >>> print(readable(pd.DataFrame({"served": [10989], "seed": [20000]})).to_string(index=False))
    served  seed
    10,989 20000
    """
    counts = count_columns(frame)
    if not counts:
        return frame
    out = frame.copy()
    for c in counts:
        out[c] = [format_number(int(v)) if pd.notna(v) else "NaN" for v in frame[c]]
    return out


def _show_readable(frame: Any, how: str) -> Any:
    # IPython's display hook for frames (use_style): counts with separators, then pandas' own
    # rendering with its options (rows, float format)
    shown = readable(frame) if len(frame) <= 100 * MAX_ROWS else frame  # a huge one is cut anyway
    return shown._repr_html_() if how == "html" else repr(shown)


def use_style() -> None:
    """Set the notebooks' figure and table style (matplotlib rcParams and pandas options).

    Idempotent; call once per notebook before the first figure or table.
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())),
            "image.cmap": "cividis",
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.titlesize": "medium",
            "axes.titleweight": "bold",
            "legend.fontsize": "small",
            "legend.framealpha": 0.85,
        }
    )
    pd.set_option("display.float_format", format_number)
    try:  # in a notebook: integer counts with separators too (pandas formats floats only)
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        formatters = shell.display_formatter.formatters
        formatters["text/html"].for_type(pd.DataFrame, lambda f: _show_readable(f, "html"))
        formatters["text/plain"].for_type(pd.DataFrame, lambda f, p, cycle: p.text(_show_readable(f, "text")))
    pd.set_option("display.max_rows", MAX_ROWS)
    pd.set_option("display.min_rows", MAX_ROWS)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", 200)


def plain_log_ticks(axis: Any) -> None:
    """Label a log-scaled matplotlib axis at 1, 2, 5 x 10^k in plain numbers (``20``, not ``2 x 10^1``).

    On a range under a decade or two, matplotlib's default labels every minor tick in
    scientific notation and the labels run into each other.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis`` of an axes whose scale is already ``"log"``.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def integer_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with float columns that hold only whole numbers (or NaN) as ``Int64``.

    Counts summed or averaged through float arrays come back as floats; as integers they print
    as counts.

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_float_dtype(s) and s.notna().any():
            vals = s.dropna()
            if ((vals % 1) == 0).all() and (vals.abs() < 2**53).all():
                out[col] = s.astype("Int64")
    return out


def vertical(frame: pd.DataFrame | pd.Series, name: str = "value") -> pd.DataFrame:
    """A wide summary turned on its side: one row per field, each cell formatted for reading.

    Parameters
    ----------
    frame : DataFrame or Series
        A summary with few rows and many columns (a Series is one row).
    name : str
        Column title when ``frame`` has a single row.

    Raises
    ------
    TypeError
        ``frame`` is neither a DataFrame nor a Series.

    Examples
    --------
    >>> vertical(pd.DataFrame({"served": [10176.0], "welfare": [0.5]}))
              value
    served   10,176
    welfare     0.5
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame().T
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame or Series, got {type(frame).__name__}")
    out = frame.T.map(format_number)
    if len(frame) == 1:
        out.columns = [name]
    return out
