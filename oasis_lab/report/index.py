"""The report folder's index: run records merged under a lock (``index.json``) and the page
listing every report in the folder (``index.html``): each notebook's title, its headline
numbers (the ``headline`` of its summary), its status, its own run time and when it finished,
and the parameters it ran with."""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write
from oasis_lab.progress import format_seconds

__all__ = ["NotebookRun", "expected_cell_seconds", "expected_seconds", "read_records", "write_index"]

# Run records of every report in the output folder, so that the index lists them all, not
# only the notebooks of the latest run (``--only``).
_RECORDS = "index.json"


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one notebook in a report run.

    ``finished`` is when this notebook finished (local time), ``seconds`` its own run time,
    ``title`` its first heading, ``headline`` its summary's headline numbers,
    ``cell_seconds`` each executed cell's time (the next run's estimates), ``show_code``
    whether its page shows the code.
    """

    notebook: str
    ok: bool
    seconds: float
    html: Path
    error: str = ""
    profile: str = ""
    finished: str = ""
    title: str = ""
    headline: dict[str, Any] = field(default_factory=dict)
    cell_seconds: list[float] = field(default_factory=list)
    show_code: bool = False


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
        entry = {**asdict(r), "html": r.html.name, "finished": r.finished or now}
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
        # not sort_keys: a headline's order is the notebook's
        json.dump({stem: records[stem] for stem in sorted(records)}, fh, indent=1)

    rows = "\n".join(_row(output_dir, stem, records[stem]) for stem in sorted(records))
    # the last notebook to finish, from the records (not the time this page is written)
    latest = max((str(rec["latest"].get("finished", "")) for rec in records.values()), default=now)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>oasis-lab report</title>"
        f"<style>{_STYLE}</style></head><body><h1>oasis-lab report</h1>"
        f"<p>Last notebook finished: {html.escape(latest)}; latest run's parameters: {html.escape(profile)}. "
        "Each row gives the notebook's "
        "own run time and when it finished; its headline numbers come from that run.</p>"
        "<table><tr><th>notebook</th><th>headline numbers</th><th>run</th><th>parameters</th></tr>"
        f"{rows}</table></body></html>"
    )
    index = output_dir / "index.html"
    with atomic_write(index, "w", encoding="utf-8") as fh:
        fh.write(page)
    return index


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:90em}"
    "table{border-collapse:collapse}td,th{padding:6px 12px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #ddd}"
    ".title{font-weight:bold}.stem{color:#555;font-size:90%}.failed{color:#b00020;font-weight:bold}"
    "ul.headline{margin:0;padding-left:1.1em}ul.headline b{white-space:nowrap}"
    ".when{color:#555;font-size:90%;white-space:nowrap}"
    "td.nb{min-width:15em}td.params{font-size:90%;color:#555}"
)


def _row(output_dir: Path, stem: str, rec: dict[str, Any]) -> str:
    from oasis_lab.report.summary import format_headline

    latest = rec["latest"]
    seconds = latest.get("seconds")
    title = str(latest.get("title") or stem)
    ok = bool(latest.get("ok"))
    status = "" if ok else f"<div class='failed'>FAILED: {html.escape(str(latest.get('error', '')))}</div>"
    earlier = rec.get("last_ok") or {}
    if not ok and earlier and (output_dir / str(earlier.get("html", ""))).exists():
        status += (f"<div><a href='{html.escape(str(earlier['html']))}'>last good report</a> "
                   f"({html.escape(str(earlier.get('finished', '')))})</div>")
    # a failed run has no numbers of its own: the last good run's, said so
    shown = latest if ok else earlier
    found = shown.get("headline")
    headline: dict[str, Any] = found if isinstance(found, dict) else {}
    items = "".join(f"<li>{html.escape(str(k))}: <b>{html.escape(format_headline(v))}</b></li>"
                    for k, v in headline.items())
    numbers = (f"<ul class='headline'>{items}</ul>" if items else "")
    if items and not ok:
        numbers = "<div class='when'>from the last good report:</div>" + numbers
    took = "" if seconds is None else format_seconds(float(seconds))
    code = "<br><span class='when'>page shows the code</span>" if latest.get("show_code") else ""
    return (
        f"<tr><td class='nb'><a class='title' href='{html.escape(str(latest['html']))}'>{html.escape(title)}</a>"
        f"<div class='stem'>{html.escape(stem)}</div>{status}</td>"
        f"<td>{numbers}</td>"
        f"<td>{took}<br><span class='when'>finished {html.escape(str(latest.get('finished', '')))}"
        f"</span>{code}</td>"
        f"<td class='params' title='{html.escape(str(latest.get('profile', '')))}'>"
        f"{html.escape(_short_profile(str(latest.get('profile', ''))))}</td></tr>"
    )


def _short_profile(label: str) -> str:
    """``profile /long/path/full.yaml`` as ``profile full.yaml`` (the whole label in a tooltip).

    Examples
    --------
    >>> _short_profile("profile /work/oasis-lab/notebooks/params/full.yaml")
    'profile full.yaml'
    >>> _short_profile("quick: each notebook's own defaults")
    "quick: each notebook's own defaults"
    """
    if label.startswith("profile ") and "/" in label:
        return "profile " + label.rsplit("/", 1)[-1]
    return label


def expected_cell_seconds(output_dir: Path, stem: str, profile_label: str) -> list[float] | None:
    """Each cell's time at the last good run of ``stem`` with the same parameters (None: none)."""
    records = read_records(output_dir)
    last = (records.get(stem) or {}).get("last_ok") if isinstance(records.get(stem), dict) else None
    if not isinstance(last, dict) or last.get("profile") != profile_label:
        return None
    cells = last.get("cell_seconds")
    if not isinstance(cells, list) or not cells or not all(isinstance(c, (int, float)) for c in cells):
        return None
    return [float(c) for c in cells]


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
