"""Atomic file writes: a reader sees the old file or the new one, never a mixture.

Every result file of the workbench (saved markets, executed notebooks, HTML reports, CSV
tables) is written through :func:`atomic_write`: the bytes go to a temporary file in the
destination's folder under a name unique to the writer, are flushed to disk, and the
temporary file is renamed over the destination (``os.replace``, atomic on POSIX and Windows
within one file system). So

- a failed or killed write leaves the earlier file intact;
- two processes writing the same destination at once each rename a complete file of their
  own: the result is one of the two complete files, never an interleaving;
- a temporary file left by a killed writer is hidden (leading dot), ends in ``.tmp`` and is
  removed by the next write to the same destination once its writer is gone.

Result files also carry a checksum of their own bytes (:func:`seal`, :func:`check_seal`): the
writer leaves a placeholder in a text field of the file (Parquet key-value metadata, a zip
comment) and replaces it by the SHA-256 of the whole file with the placeholder in place; a
reader recomputes it before parsing anything, so any flipped bit, a truncation or an appended
byte is refused with one ``ValueError`` naming the file, never read back as other numbers.
:func:`write_sealed_parquet` and :func:`read_sealed_parquet` do this for Parquet tables
(simulation results, sweep parts).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write",
    "check_output_dir",
    "check_output_file",
    "SEAL_PLACEHOLDER",
    "check_seal",
    "create_new",
    "is_sealed",
    "is_temp_file",
    "read_sealed_parquet",
    "remove_stale_temps",
    "seal",
    "write_sealed_parquet",
]

# Hidden name: ".<target>.<host>-<pid>.<random>.tmp" (plus the target's suffix for writers that
# insist on one, e.g. papermill's ".ipynb"). Host and pid let a later writer tell a
# temporary file of a live writer (left alone) from one a killed writer left behind (removed).
_TEMP_RE = re.compile(
    r"^\.(?P<target>.+)\.(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)\.[0-9a-f]{16}\.tmp(\.[A-Za-z0-9]+)?$"
)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())


def _temp_name(target: Path, keep_suffix: bool = False) -> Path:
    suffix = target.suffix if keep_suffix else ""
    return target.with_name(
        f".{target.name}.{_host()}-{os.getpid()}.{secrets.token_hex(8)}.tmp{suffix}"
    )


def is_temp_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`.

    Examples
    --------
    >>> is_temp_file(".market.npz.host-123.0123456789abcdef.tmp")
    True
    >>> is_temp_file(".a.ipynb.host-123.0123456789abcdef.tmp.ipynb")
    True
    >>> is_temp_file("market.npz")
    False
    """
    return _TEMP_RE.match(Path(path).name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's live process / not a pid here
        return True
    return True


def remove_stale_temps(target: str | Path) -> list[Path]:
    """Remove temporary files of ``target`` left by writers on this host that no longer run.

    Temporary files of live writers (another process saving the same destination right now)
    and of other hosts (a shared folder) are left alone. Returns the removed paths.
    """
    target = Path(target)
    removed: list[Path] = []
    try:
        candidates = list(target.parent.glob(f".{target.name}.*.tmp*"))
    except OSError:
        return removed
    host = _host()
    for path in candidates:
        match = _TEMP_RE.match(path.name)
        if match is None or match["target"] != target.name or match["host"] != host:
            continue
        if _pid_alive(int(match["pid"])):
            continue
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:  # another writer cleaned it first
            pass
    return removed


def _folder_problem(folder: Path) -> str | None:
    """Why no file can be created in ``folder`` (created on demand), or ``None``."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{str(existing)!r} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {str(existing)!r} is not writable"
    return None


def check_output_dir(name: str, path: str | Path) -> Path:
    """Return ``path`` if it is (or can be created as) a writable folder, else raise.

    Raises
    ------
    ValueError
        ``path`` or a folder above it is a file, or the nearest existing folder is not
        writable. The message names the argument ``name``.
    """
    path = Path(path)
    problem = _folder_problem(path)
    if problem:
        raise ValueError(f"{name} = {str(path)!r}: {problem}")
    return path


def check_output_file(name: str, path: str | Path) -> Path:
    """Return ``path`` if a file can be written there, else raise one clear error.

    Checked before any work starts, so a long computation never ends in an unwritable path.

    Raises
    ------
    ValueError
        ``path`` is a directory, a folder above it is a file, or the nearest existing folder
        above it is not writable (an atomic write renames a new file into the folder, so the
        folder's permission is what counts). The message names the argument ``name``.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} = {str(path)!r} is a directory; give a file name inside it")
    problem = _folder_problem(path.parent)
    if problem:
        raise ValueError(f"{name} = {str(path)!r}: {problem}")
    return path


@contextmanager
def atomic_path(target: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target``; on success rename it over ``target``.

    For writers that take a file name (papermill, pandas): they write the yielded path, and
    only a complete file replaces ``target``. If the block raises (or is interrupted), the
    temporary file is removed and ``target`` is untouched. If the block leaves no file at the
    yielded path, ``target`` is untouched too. ``keep_suffix`` ends the temporary name with
    ``target``'s suffix, for writers that check it.

    Raises
    ------
    ValueError
        ``target`` is a directory.
    """
    target = Path(target)
    if target.is_dir():
        raise ValueError(f"{str(target)!r} is a directory, not a file to write")
    remove_stale_temps(target)
    tmp = _temp_name(target, keep_suffix)
    try:
        yield tmp
        if tmp.exists():
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_write(target: str | Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``target``; on success rename it over ``target``.

    Parameters
    ----------
    target : path
        The destination file. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    **open_kwargs
        Passed to :func:`os.fdopen` (e.g. ``encoding="utf-8"``).

    Raises
    ------
    ValueError
        ``target`` is a directory.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_write(folder / "a.txt", "w", encoding="utf-8") as fh:
    ...     _ = fh.write("complete")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['a.txt'])
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode = {mode!r} is not one of ['wb', 'w']")
    with atomic_path(target) as tmp:
        # O_EXCL: the name is this writer's alone; 0o666 lets the umask set the usual permissions.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def create_new(target: str | Path, data: bytes) -> bool:
    """Create ``target`` holding ``data`` unless it exists; ``True`` if this call created it.

    Atomic: the bytes are written to a temporary file and hard-linked into place, which fails
    if ``target`` exists. So a reader sees ``target`` complete or not at all, and of several
    processes creating it at once exactly one succeeds (a claim on a folder, e.g. a sweep's
    manifest); the others get ``False`` and read what the winner wrote.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> create_new(folder / "claim", b"first"), create_new(folder / "claim", b"second")
    (True, False)
    >>> (folder / "claim").read_bytes()
    b'first'
    """
    target = Path(target)
    remove_stale_temps(target)
    tmp = _temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------- checksums
_SEAL_TAG = b"oasis-lab-sha256:"
#: What a writer puts in a text field of its file before :func:`seal` (the tag and 64 zeros).
SEAL_PLACEHOLDER = (_SEAL_TAG + b"0" * 64).decode()
_SEAL_RE = re.compile(re.escape(_SEAL_TAG) + rb"[0-9a-f]{64}")
_SEAL_KEY = "oasis_lab.sha256"


def seal(data: bytes) -> bytes:
    """``data`` with its one :data:`SEAL_PLACEHOLDER` replaced by the SHA-256 of ``data``.

    The digest is taken over the bytes with the placeholder in place, so a reader undoes the
    replacement and hashes again (:func:`check_seal`). The placeholder must be stored
    verbatim (not compressed or encoded) exactly once.

    Examples
    --------
    >>> sealed = seal(b"numbers 1 2 3; " + SEAL_PLACEHOLDER.encode())
    >>> check_seal(sealed, "example")
    >>> check_seal(sealed.replace(b"1 2", b"1 3"), "example")
    Traceback (most recent call last):
    ...
    ValueError: example is corrupt: its checksum does not match its bytes
    """
    placeholder = SEAL_PLACEHOLDER.encode()
    if data.count(placeholder) != 1 or len(_SEAL_RE.findall(data)) != 1:
        raise ValueError("seal: the data must hold the checksum placeholder exactly once")
    digest = hashlib.sha256(data).hexdigest().encode()
    return data.replace(placeholder, _SEAL_TAG + digest)


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` holds a checksum of :func:`seal` (intact or not): files written before
    checksums were added hold none and are read as they are; a damaged checksum is still one."""
    return _SEAL_TAG in data


def check_seal(data: bytes, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` unless ``data`` is exactly as :func:`seal` left it.

    Raises
    ------
    ValueError
        No checksum (not a sealed file, or its checksum field is damaged), more than one, or
        a checksum that does not match the bytes (any changed, missing or added byte).
    """
    found = list(_SEAL_RE.finditer(data))
    if len(found) != 1:
        count = "no checksum" if not found else f"{len(found)} checksums"
        raise ValueError(
            f"{what} is corrupt or not a checksummed oasis_lab file: it holds {count} "
            f"({_SEAL_TAG.decode()}...)"
        )
    match = found[0]
    stored = match.group()[len(_SEAL_TAG):]
    blank = data[: match.start()] + SEAL_PLACEHOLDER.encode() + data[match.end():]
    if hashlib.sha256(blank).hexdigest().encode() != stored:
        raise ValueError(f"{what} is corrupt: its checksum does not match its bytes")


def write_sealed_parquet(path: str | Path, table: Any, metadata: dict[str, str]) -> Path:
    """Write a ``pyarrow.Table`` with string ``metadata`` to ``path``, checksummed, atomically.

    The metadata goes into the file's key-value metadata (beside pandas' own), with the
    checksum of the whole file (:func:`seal`); the file stays an ordinary Parquet file that
    pandas, pyarrow and Dask read. A failed write leaves an earlier file intact.
    """
    import io

    import pyarrow.parquet as pq

    if _SEAL_KEY in metadata:
        raise ValueError(f"metadata key {_SEAL_KEY!r} is reserved for the checksum")
    old = table.schema.metadata or {}
    table = table.replace_schema_metadata({**old, **metadata, _SEAL_KEY: SEAL_PLACEHOLDER})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = seal(buffer.getvalue())
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def read_sealed_parquet(path: str | Path, what: str) -> tuple[Any, dict[str, str]]:
    """Read a file of :func:`write_sealed_parquet`: its table and its metadata (as text).

    The checksum is verified before the bytes are parsed.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A directory, a file whose checksum is missing or does not match (any damage), or one
        that does not parse as Parquet; the message names ``what`` (which should name the
        file).
    """
    import io

    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} is not a regular file")
    data = path.read_bytes()
    check_seal(data, what)
    try:
        table = pq.read_table(io.BytesIO(data))
        raw = table.schema.metadata or {}
        metadata = {k.decode(): v.decode() for k, v in raw.items()}
    except Exception as exc:  # noqa: BLE001 - sealed yet unparsable: not a Parquet file of ours
        raise ValueError(f"{what} is not a Parquet table: {type(exc).__name__}: {exc}") from None
    metadata.pop(_SEAL_KEY, None)
    return table.replace_schema_metadata({k: v for k, v in raw.items() if k.decode() != _SEAL_KEY}), metadata

