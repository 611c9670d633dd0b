"""How the report talks to a notebook's kernel: its housekeeping output to a log file, its
sockets in a private folder, and the notebook's own progress lines on the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oasis_lab.progress import read_progress
from oasis_lab.report.console import ReportConsole, poll

__all__ = ["kernel_manager_class", "progress_engine"]


def kernel_manager_class(log_path: Path, socket_dir: Path) -> type:
    """A kernel manager whose kernel writes its own stdout/stderr to ``log_path``.

    The kernel process's streams carry only the kernel's housekeeping (start-up notices,
    noise when it is shut down by Ctrl-C), never cell output (papermill records that in the
    notebook): in the log file it cannot bury the report's progress lines or the one-line
    message of an interrupted run, and it is there when a kernel dies.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        # The kernel talks to the report over Unix sockets in a private folder, not TCP:
        # nothing listens on the network, and the kernel has no reason to warn about plain
        # text traffic (it did, once per notebook, in every report log).
        def __init__(self, **kw: Any) -> None:
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", str(socket_dir / "kernel"))
            super().__init__(**kw)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with open(log_path, "ab") as log:  # noqa: ASYNC230 - Popen duplicates it
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await super().start_kernel(**kw)

    return LoggedKernelManager


def progress_engine(progress_file: Path, console: ReportConsole | None,
                    cell_seconds: list[float] | None = None) -> str:
    """Register (under ``"oasis-lab"``) a papermill engine that shows the notebook's progress.

    Each cell's start goes to ``console`` (:class:`~oasis_lab.report.console.ReportConsole`)
    with the cell count and, when the notebook has the same cells as at its last good run,
    ``cell_seconds`` (each cell's time then), so the console's estimates count measured time,
    not cells. Code inside the kernel reports through :func:`oasis_lab.progress.progress_bar`,
    which writes its line into ``progress_file`` (the kernel inherits
    :data:`~oasis_lab.progress.PROGRESS_ENV`); a thread here copies that line to the console.
    ``console`` None: nothing is shown.
    """
    import threading

    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            if console is None:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            console.cells_known(len(nb_man.nb.cells), cell_seconds)
            started = nb_man.cell_start

            def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                if cell_index is not None:
                    console.cell_start(cell_index, cell.source if cell.get("cell_type") == "code" else "")
                return started(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            stop = threading.Event()
            thread = threading.Thread(
                target=poll, args=(console, lambda: read_progress(progress_file), stop), daemon=True
            )
            thread.start()
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                stop.set()
                thread.join()

    papermill_engines.register("oasis-lab", ProgressEngine)
    return "oasis-lab"
