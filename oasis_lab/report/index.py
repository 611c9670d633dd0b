"""The report folder's index: run records merged under a lock (``index.json``) and the page
listing every report in the folder (``index.html``)."""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write

__all__ = ["NotebookRun", "expected_seconds", "read_records", "write_index"]

# Run records of every report in the output folder, so that the index lists them all, not
# only the notebooks of the latest run (``--only``).
_RECORDS = "index.json"


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one notebook in a report run."""

    notebook: str
    ok: bool
    seconds: float
    html: Path
    error: str = ""
    profile: str = ""


def read_records(output_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((output_dir / _RECORDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_index(output_dir: Path, runs: list[NotebookRun], profile: str) -> Path:
    """Merge ``runs`` into the folder's records and write ``index.html`` listing every report.

    Two report runs into one folder each read, merge and rewrite the records: an exclusive lock
    (a file in the system's temporary folder named after the output folder, so the reports
    folder holds only reports) makes that one step, so neither run's entries are lost.
    """
    import fcntl
    import hashlib
    import tempfile

    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"oasis-lab-index-{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return _merge_index(output_dir, runs, profile)


def _merge_index(output_dir: Path, runs: list[NotebookRun], profile: str) -> Path:
    records = read_records(output_dir)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    for r in runs:
        entry = {**asdict(r), "html": r.html.name, "finished": now}
        record = records.get(r.notebook) if isinstance(records.get(r.notebook), dict) else {}
        records[r.notebook] = {
            "latest": entry,
            "last_ok": entry if r.ok else (record or {}).get("last_ok"),
        }
    # every report page present, recorded or not (a run before records were kept)
    for html_file in sorted(output_dir.glob("*.html")):
        if html_file.name == "index.html":
            continue
        stem = html_file.name[: -len(".failed.html")] if html_file.name.endswith(".failed.html") else html_file.stem
        if stem not in records:
            records[stem] = {
                "latest": {"notebook": stem, "ok": not html_file.name.endswith(".failed.html"),
                           "seconds": None, "html": html_file.name, "error": "", "profile": "unknown",
                           "finished": time.strftime("%Y-%m-%d %H:%M:%S",
                                                     time.localtime(html_file.stat().st_mtime))},
                "last_ok": None,
            }
    # a report whose page was deleted is no longer listed
    records = {
        stem: rec for stem, rec in records.items()
        if isinstance(rec, dict) and isinstance(rec.get("latest"), dict)
        and (output_dir / str(rec["latest"].get("html", ""))).exists()
    }
    with atomic_write(output_dir / _RECORDS, "w", encoding="utf-8") as fh:
        json.dump(records, fh, indent=1, sort_keys=True)

    def row(stem: str, rec: dict[str, Any]) -> str:
        latest = rec["latest"]
        seconds = latest.get("seconds")
        earlier = rec.get("last_ok") or {}
        good = ""
        if not latest.get("ok") and earlier and (output_dir / str(earlier.get("html", ""))).exists():
            good = (f"<a href='{html.escape(str(earlier['html']))}'>last good report</a> "
                    f"({html.escape(str(earlier.get('finished', '')))})")
        return (
            f"<tr><td><a href='{html.escape(str(latest['html']))}'>{html.escape(stem)}</a></td>"
            f"<td>{'ok' if latest.get('ok') else 'FAILED'}</td>"
            f"<td>{'' if seconds is None else f'{float(seconds):.1f} s'}</td>"
            f"<td>{html.escape(str(latest.get('finished', '')))}</td>"
            f"<td>{html.escape(str(latest.get('profile', '')))}</td>"
            f"<td>{html.escape(str(latest.get('error', '')))}</td><td>{good}</td></tr>"
        )

    rows = "\n".join(row(stem, records[stem]) for stem in sorted(records))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>oasis-lab report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;text-align:left}"
        "</style></head><body><h1>oasis-lab report</h1>"
        f"<p>Latest run: {now}, parameters: {html.escape(profile)}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th>finished</th>"
        "<th>parameters</th><th>error</th><th></th></tr>"
        f"{rows}</table></body></html>"
    )
    index = output_dir / "index.html"
    with atomic_write(index, "w", encoding="utf-8") as fh:
        fh.write(page)
    return index


def expected_seconds(output_dir: Path, stems: list[str], profile_label: str) -> float | None:
    """Seconds the notebooks ``stems`` took at their last good run with the same parameters."""
    records = read_records(output_dir)
    total = 0.0
    for stem in stems:
        last = (records.get(stem) or {}).get("last_ok") if isinstance(records.get(stem), dict) else None
        if not isinstance(last, dict) or last.get("profile") != profile_label or last.get("seconds") is None:
            return None
        total += float(last["seconds"])
    return total
