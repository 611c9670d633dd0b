"""One help style for every subcommand: each option says what it is, its unit and its default.

Subcommands of every layer (``auction``, ``compare``, ``bench``, ...) build their parsers with
:class:`HelpFormatter`, and ``tests/test_cli_help.py`` checks that no option is left
unexplained and that the help fits 100 columns.
"""

from __future__ import annotations

import argparse

__all__ = ["WIDTH", "HelpFormatter"]

#: Columns the help and the default tables fit (``--wide`` prints tables whole).
WIDTH = 100


class HelpFormatter(argparse.HelpFormatter):
    """Wraps to :data:`WIDTH` columns and appends ``(default: X)`` to an option's help.

    The default is appended only where it says something: not for flags (``store_true``),
    not for ``None`` defaults, and not where the help already names its default.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 30,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width=width or WIDTH)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "(default" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and (action.option_strings or action.nargs in ("?", "*"))
        ):
            default = action.default
            if isinstance(default, (list, tuple)):
                default = ",".join(str(x) for x in default)
            text += f" (default: {str(default).replace('%', '%%')})"
        return text
