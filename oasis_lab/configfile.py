"""Reading configuration files: one loader for every YAML and TOML file the workbench reads.

Simulation configs (:func:`oasis_lab.sim.load_config`), sweep files (``python -m oasis_lab
sweep``) and report parameter profiles (``python -m oasis_lab report --profile``) are read
here, so they all follow the same rules:

- **YAML 1.2 scalars** (the core schema): ``1e3`` and ``2.5E-4`` are numbers (YAML 1.1, PyYAML's
  default, reads a float without a dot as a string), ``010`` is ten, ``0o17`` and ``0x1F`` are
  octal and hexadecimal, only ``true``/``false`` are booleans (``yes``, ``no``, ``on`` and
  ``off`` stay strings), ``null``, ``~`` and an empty value are ``None``, and there are no
  implicit dates. TOML (``tomllib``) already reads numbers so.
- **No duplicate keys**: a mapping that names a key twice is refused, naming the key and both
  lines (YAML would keep the last one silently; TOML refuses them already).
- **One clear error per unreadable file**, naming it: missing (``FileNotFoundError``), a
  directory, a device such as ``/dev/null``, binary content, or malformed YAML/TOML with its
  line and column (``ValueError``).

Examples
--------
>>> parse_yaml("n_tasks: 1e3\\nrational: yes\\n")
{'n_tasks': 1000.0, 'rational': 'yes'}
>>> parse_yaml("rounds: 1\\nrounds: 2\\n", "sim.yaml")
Traceback (most recent call last):
...
ValueError: sim.yaml: duplicate key 'rounds' at line 2 (first at line 1)
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_config_file", "parse_yaml", "read_text_file"]

_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")
_BOOL = re.compile(r"^(true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(~|null|Null|NULL|)$")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<": merged keys may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:  # an unhashable key: SafeLoader reports it
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    return int(text)  # decimal, a leading zero included ("010" is ten in YAML 1.2)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return float(text)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


# Replace YAML 1.1's implicit resolvers (bool yes/no/on/off, sexagesimal and underscored
# numbers, floats that need a dot, dates) by the YAML 1.2 core schema's; keep merge keys.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:merge"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _rx, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", re.compile(f"{_INT.pattern}|{_OCT.pattern}|{_HEX.pattern}"), "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        re.compile(f"{_FLOAT.pattern}|{_INF.pattern}|{_NAN.pattern}"),
        "-+.0123456789",
    ),
):
    _Loader.add_implicit_resolver(_tag, _rx, list(_first))
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def parse_yaml(text: str, source: str = "document") -> Any:
    """Parse one YAML document under the rules of this module.

    Parameters
    ----------
    text : str
        The document.
    source : str
        What it is (a file name), quoted at the start of an error.

    Raises
    ------
    ValueError
        Malformed YAML (with the line and column), a duplicate key (with both lines), or an
        unhashable key.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _DuplicateKey as dup:
        raise ValueError(
            f"{source}: duplicate key {dup.key!r} at line {dup.line} (first at line {dup.first})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"{source} is not valid YAML: {problem}{where}") from None


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``, or one clear error naming it.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is (``"config file"``), for the messages.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is a directory, not a regular file (``/dev/null``, a pipe), unreadable, or
        not UTF-8 text (a binary file).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if p.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a directory, not a file")
    if not p.is_file():
        raise ValueError(f"{what} {str(path)!r} is not a regular file")
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}): "
            "a binary file?"
        ) from None
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def load_config_file(path: str | Path, what: str = "config file", *, toml: bool = True) -> Any:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) file under this module's rules.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the messages.
    toml : bool, default True
        Whether ``.toml`` is accepted; otherwise every file is read as YAML whatever its suffix.

    Returns
    -------
    object
        The parsed document (``None`` for an empty YAML file).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_text_file` and :func:`parse_yaml`; a TOML syntax error or an unknown
        suffix (with ``toml=True``) is a ``ValueError`` naming the file.
    """
    text = read_text_file(path, what)
    name = str(path)
    suffix = Path(path).suffix.lower()
    if toml and suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{what} {name!r} is not valid TOML: {exc}") from None
    if toml and suffix not in (".yaml", ".yml"):
        raise ValueError(f"{what} {name!r}: expected a .yaml, .yml or .toml file")
    return parse_yaml(text, f"{what} {name!r}")
