"""One figure and table style for every notebook: call :func:`use_style` once, at the top.

Figures use the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), whose eight
colours stay distinct under the common colour-vision deficiencies, as matplotlib's colour
cycle, and ``cividis`` (perceptually uniform, colour-blind safe) as the default colour map.
Tables print numbers in one notation, :func:`format_number` (the notebooks' tables and
figures, every CLI table through :func:`oasis_lab.clihelp.fit_table`): integral numbers as
integers with thousands separators (a count of 10176 must not read ``1.017600e+04``), other
numbers with four significant digits in positional notation, never an exponent; tables show
every row and column up to :data:`MAX_ROWS` rows, so that no claim rests on rows pandas elides.

This module only styles; it computes nothing a figure shows (the layers above do).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import pandas as pd

__all__ = ["OKABE_ITO", "MAX_ROWS", "format_number", "integer_counts", "plain_log_ticks", "use_style", "vertical"]

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


def format_number(value: Any) -> str:
    """Format one number for a table, a figure or the CLI: the one notation of the package.

    Integral values as integers with thousands separators; other values with four significant
    digits (at least: a value of 1,000 or more keeps every digit before the point) in
    positional notation with thousands separators, trailing zeros dropped, never an exponent;
    NaN as ``NaN``; anything that is not a real number (``bool`` included) as ``str`` gives it.

    Examples
    --------
    >>> format_number(10176.0), format_number(0.123456), format_number(123456.7), format_number(2e-7)
    ('10,176', '0.1235', '123,457', '0.0000002')
    >>> format_number(0.5), format_number(-0.0018249), format_number(float("nan")), format_number("x")
    ('0.5', '-0.001825', 'NaN', 'x')
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return str(v)
    if isinstance(value, Integral) or (v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    # digits after the point for four significant ones (none from 1,000 up)
    digits = max(0, 3 - math.floor(math.log10(abs(v))))
    return f"{v:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:,.0f}"


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
