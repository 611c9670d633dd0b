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
     (0.5, "0.5"), (float("inf"), "inf"), (np.int64(10989), "10,989"),
     # issue 22: float noise and a float max_abs of 3.4e27 read as 0.0000000000000001571 and as a
     # 28-digit integer; integers are exact counts and keep every digit
     (1.571e-16, "1.571 × 10⁻¹⁶"), (-3.4028e27, "-3.403 × 10²⁷"), (1e20, "1 × 10²⁰"), (9.99996e-10, "1 × 10⁻⁹"),
     (10**20, "100,000,000,000,000,000,000"), (0.0, "0"), (-0.0, "0")],
)
def test_format_number(value: object, text: str) -> None:
    assert plotting.format_number(value) == text


def _read_back(text: str) -> float:
    if " × 10" in text:
        mantissa, power = text.split(" × 10")
        digits = power.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))
        return float(mantissa) * 10.0 ** int(digits)
    return float(text.replace(",", ""))


@pytest.mark.parametrize("magnitude", range(-18, 22))
def test_format_number_never_prints_an_e_exponent_and_keeps_four_digits(magnitude: int) -> None:
    # the README's notation: thousands separators, 4 significant digits, no "e" exponent (fit_table
    # printed 123456.7 as 1.235e+05 and plotting 2e-7 as 2e-07 before they shared this function);
    # positional from 10^-9 up to 10^15, "m.mmm × 10ⁿ" outside
    for mantissa in (1.0, 1.23456, -9.87654, 9.99961):
        value = mantissa * 10.0**magnitude
        text = plotting.format_number(value)
        assert "e" not in text.lower() and text == text.strip(), text
        assert (" × 10" in text) == (not 1e-9 <= abs(value) < 1e15), text
        assert len(text.replace(",", "").replace("-", "")) <= 22, text
        assert _read_back(text) == pytest.approx(value, rel=5e-4)


def test_readable_writes_integer_counts_with_separators_and_leaves_identifiers() -> None:
    frame = pd.DataFrame({"served": [10989, 20000], "seed": [12345, 7], "task_id": [22037, 1],
                          "share": [0.5, 0.25], "ok": [True, False]})
    out = plotting.readable(frame)
    assert out["served"].tolist() == ["10,989", "20,000"]
    assert out["seed"].tolist() == [12345, 7] and out["task_id"].tolist() == [22037, 1]
    assert out["share"].tolist() == [0.5, 0.25] and out["ok"].tolist() == [True, False]
    assert frame["served"].tolist() == [10989, 20000]  # the input is left alone
    assert plotting.count_columns(frame) == ["served"]


def test_in_a_notebook_frames_show_their_counts_with_separators() -> None:
    # use_style registers this display for DataFrames in IPython (text and HTML)
    frame = pd.DataFrame({"served": [10989], "welfare": [1234.5]})
    with pd.option_context("display.float_format", plotting.format_number):
        html = plotting._show_readable(frame, "html")
        text = plotting._show_readable(frame, "text")
    assert "<td>10,989</td>" in html and "10,989" in text and "1,234" in text


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
