"""The shared figure and table style (oasis_lab.plotting)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from oasis_lab import plotting


def test_use_style_sets_the_okabe_ito_cycle_and_readable_tables() -> None:
    with matplotlib.rc_context(), pd.option_context("display.max_rows", 60):
        plotting.use_style()
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert [c.upper() for c in colors] == list(plotting.OKABE_ITO.values())
        assert matplotlib.rcParams["image.cmap"] == "cividis"
        # a table of MAX_ROWS rows prints whole: no "..." row hiding the ones a claim rests on
        text = repr(pd.DataFrame({"x": np.arange(plotting.MAX_ROWS, dtype=float)}))
        assert "..." not in text and f"{plotting.MAX_ROWS - 1:,}" in text
        # whole floats print as counts, not 1.017600e+04
        shown = repr(pd.DataFrame({"n": [10176.0, 3.0], "r": [0.5, 1e-9]}))
        assert "10,176" in shown and "e+04" not in shown
    pd.reset_option("display.float_format")
    pd.reset_option("display.min_rows")
    pd.reset_option("display.max_columns")
    pd.reset_option("display.max_colwidth")
    pd.reset_option("display.width")


@pytest.mark.parametrize(
    ("value", "text"),
    [(10176.0, "10,176"), (np.int64(7), "7"), (0.123456, "0.1235"), (123456.7, "123,457"), (1389.33, "1,389"),
     (-2.5, "-2.5"), (float("nan"), "NaN"), (True, "True"), ("label", "label"), (2e-7, "0.0000002"),
     (0.5, "0.5"), (1e20, "100,000,000,000,000,000,000"), (float("inf"), "inf")],
)
def test_format_number(value: object, text: str) -> None:
    assert plotting.format_number(value) == text


@pytest.mark.parametrize("magnitude", range(-12, 19))
def test_format_number_never_prints_an_exponent_and_keeps_four_digits(magnitude: int) -> None:
    # the README's notation: thousands separators, 4 significant digits, no exponent (fit_table
    # printed 123456.7 as 1.235e+05 and plotting 2e-7 as 2e-07 before they shared this function)
    for mantissa in (1.0, 1.23456, -9.87654, 9.99961):
        value = mantissa * 10.0**magnitude
        text = plotting.format_number(value)
        assert "e" not in text.lower() and text == text.strip(), text
        assert float(text.replace(",", "")) == pytest.approx(value, rel=5e-4)


def test_cli_tables_use_the_same_notation() -> None:
    from oasis_lab.clihelp import fit_table

    frame = pd.DataFrame({"x": [123456.7, 0.00012346, 2.5]})
    cells = fit_table(frame).split()[1:]
    assert cells == [plotting.format_number(v) for v in frame["x"]] == ["123,457", "0.0001235", "2.5"]


def test_integer_counts_converts_only_whole_float_columns() -> None:
    frame = pd.DataFrame({"count": [1.0, np.nan, 10176.0], "rate": [0.5, 1.0, 2.0], "name": list("abc")})
    out = plotting.integer_counts(frame)
    assert str(out["count"].dtype) == "Int64" and out["count"].iloc[2] == 10176
    assert out["rate"].dtype == float and out["name"].tolist() == list("abc")
    assert frame["count"].dtype == float  # the input is left alone
    with pytest.raises(TypeError, match="frame"):
        plotting.integer_counts([1.0])  # type: ignore[arg-type]


def test_vertical_puts_a_wide_summary_on_its_side() -> None:
    wide = pd.DataFrame({f"col{i}": [float(i)] for i in range(30)} | {"rate": [0.25]})
    out = plotting.vertical(wide, name="run")
    assert out.shape == (31, 1) and list(out.columns) == ["run"]
    assert out.loc["col12", "run"] == "12" and out.loc["rate", "run"] == "0.25"
    two = plotting.vertical(pd.DataFrame({"a": [1, 2]}, index=["x", "y"]))
    assert list(two.columns) == ["x", "y"]
    assert plotting.vertical(pd.Series({"a": 3.0})).loc["a", "value"] == "3"
    with pytest.raises(TypeError, match="frame"):
        plotting.vertical("wide")  # type: ignore[arg-type]


def test_plain_log_ticks_label_a_short_log_range_plainly() -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([3, 70], [0, 1])
    ax.set_xscale("log")
    plotting.plain_log_ticks(ax.xaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert {"5", "10", "20", "50"} <= set(labels)
    for low, high, want in ((3e-5, 7e-4, {"0.00005", "0.0001", "0.0002"}), (3e3, 7e4, {"5,000", "10,000"})):
        ax.set_xlim(low, high)  # small and large ranges read in the one notation: no 5e-05
        fig.canvas.draw()
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert want <= set(shown) and not any("e" in t for t in shown), shown
    assert not any("times" in t or "^" in t for t in labels)
    assert not [t for t in ax.xaxis.get_minor_ticks() if t.label1.get_text()]
    plt.close(fig)
