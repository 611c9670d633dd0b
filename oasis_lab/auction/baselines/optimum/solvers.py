"""The solvers of the welfare model and the worker process that bounds their time (section 4).

The same model (sparse matrices) is solved by cvxpy (``backend="cvxpy"``, the reference,
``"HIGHS"`` or ``"SCIPY"``) or handed to HiGHS directly through highspy
(``backend="highspy"``: the same solver without cvxpy's compile step, for the hundreds of tiny
instances of the tests and VCG's re-solves; tested to agree).

HiGHS checks its ``time_limit`` only between the steps of some phases: its presolve of a
300,000-task market ran for minutes under ``time_limit=10``, and the root LP of the same model
without presolve took 31 s. A time-limited solve therefore runs in a worker process
(:func:`solve_before`) that is killed at the deadline if it has not answered, so the call
returns by then whatever the solver does.

This module imports only the standard library, numpy and scipy (the solvers lazily): the
worker runs it as a script (``python solvers.py JOB_FD ANSWER_FD``), so starting one does not
import the package, and nothing it exchanges with its parent refers to a class of the package
(plain arrays, matrices and tuples go through the pipes).
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "BACKENDS",
    "CVXPY_SOLVERS",
    "MAX_TIME_LIMIT",
    "LinearProgram",
    "RawSolution",
    "check_time_limit",
    "run_backend",
    "solve_before",
]

#: Longest time limit of an exact solve, in seconds (about 11.6 days). The worker process that
#: holds a solve to its deadline waits on a pipe whose timeout is a C int of milliseconds
#: (at most 2**31 - 1 ms, 24.8 days): a longer limit cannot be waited for, so it is refused.
MAX_TIME_LIMIT = 1e6


def check_time_limit(name: str, value: Any) -> float | None:
    """Return ``value`` as a float in ``(0, MAX_TIME_LIMIT]`` seconds, or ``None`` (no limit).

    Raises
    ------
    ValueError
        Not a positive number of seconds, NaN, infinite or above :data:`MAX_TIME_LIMIT`;
        the message names ``name`` and the bound.

    Examples
    --------
    >>> check_time_limit("time_limit", 30)
    30.0
    >>> check_time_limit("time_limit", 2.2e6)
    Traceback (most recent call last):
    ...
    ValueError: time_limit = 2200000.0 must be at most 1e+06 seconds (about 11.6 days); None for no limit
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} = {value!r} must be a positive number of seconds or None")
    if not value > 0:
        raise ValueError(f"{name} = {value!r} must be a positive number of seconds or None")
    if not value <= MAX_TIME_LIMIT:
        raise ValueError(
            f"{name} = {value!r} must be at most {MAX_TIME_LIMIT:g} seconds (about "
            f"{MAX_TIME_LIMIT / 86400:.1f} days); None for no limit"
        )
    return float(value)


BACKENDS = ("cvxpy", "highspy")
#: cvxpy MIP-capable solvers whose options we know how to pass.
CVXPY_SOLVERS = ("HIGHS", "SCIPY")


@dataclass(frozen=True, eq=False)
class LinearProgram:
    """``max c z  s.t.  A_eq z = b_eq,  A_ub z <= b_ub,  lb <= z <= ub``; the first ``n_int``
    columns integer. What a solver sees of the welfare model."""

    c: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    n_int: int

    @property
    def n_cols(self) -> int:
        return int(self.c.shape[0])


@dataclass(frozen=True)
class RawSolution:
    """A backend's answer before decoding: status, primal columns and dual bound of the model."""

    status: str
    z: np.ndarray | None  # primal solution (None when the solver has none)
    bound: float  # upper bound on the model's optimum (nan when unknown)
    solver_time_s: float
    message: str = ""


def run_backend(
    program: LinearProgram, backend: str, solver: str, time_limit: float | None, mip_rel_gap: float
) -> RawSolution:
    """Solve ``program`` in this process with ``backend`` (and cvxpy's ``solver``)."""
    if backend == "cvxpy":
        if solver == "HIGHS":
            _silence_highs_banner()
        return _solve_cvxpy(program, solver, time_limit, mip_rel_gap)
    _silence_highs_banner()
    return _solve_highspy(program, time_limit, mip_rel_gap)


def _solve_cvxpy(model: LinearProgram, solver: str, time_limit: float | None, mip_rel_gap: float) -> RawSolution:
    import cvxpy as cp

    n, n_int = model.n_cols, model.n_int
    parts = []
    if n_int:
        parts.append(cp.Variable(n_int, integer=True, bounds=[model.lb[:n_int], model.ub[:n_int]]))
    if n - n_int:
        parts.append(cp.Variable(n - n_int, bounds=[model.lb[n_int:], model.ub[n_int:]]))
    z = parts[0] if len(parts) == 1 else cp.hstack(parts)
    constraints = []
    if model.a_eq.shape[0]:
        constraints.append(model.a_eq @ z == model.b_eq)
    if model.a_ub.shape[0]:
        constraints.append(model.a_ub @ z <= model.b_ub)
    problem = cp.Problem(cp.Maximize(model.c @ z), constraints)
    opts: dict[str, Any] = {}
    if solver == "HIGHS":
        opts["output_flag"] = False
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
        if n_int:
            opts["mip_rel_gap"] = float(mip_rel_gap)
    elif solver == "SCIPY":
        sopts: dict[str, Any] = {}
        if time_limit is not None:
            sopts["time_limit"] = float(time_limit)
        if n_int:
            sopts["mip_rel_gap"] = float(mip_rel_gap)
        opts["scipy_options"] = sopts
    try:
        with warnings.catch_warnings():
            # cvxpy warns "may be inaccurate" on a time limit: the status says it already.
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, **opts)
    except cp.error.SolverError as exc:
        return RawSolution("solver_error", None, math.nan, math.nan, str(exc))
    except (ValueError, IndexError) as exc:
        # cvxpy fails to unpack a limit-stopped HiGHS run that found no solution.
        return RawSolution("solver_limit" if time_limit is None else "time_limit", None, math.nan,
                    math.nan, f"{type(exc).__name__}: {exc}")
    stats = problem.solver_stats
    solver_time = float(stats.solve_time) if stats is not None and stats.solve_time is not None else math.nan
    info = stats.extra_stats if stats is not None else None
    status = problem.status
    has_solution = z.value is not None
    if info is not None and hasattr(info, "primal_solution_status"):
        has_solution = has_solution and int(info.primal_solution_status) == 2
    if status in ("optimal",):
        kind = "optimal"
    elif status == "user_limit":
        kind = "time_limit" if time_limit is not None else "solver_limit"
    elif status == "optimal_inaccurate":
        kind = "inaccurate"
    elif status in ("infeasible", "infeasible_inaccurate"):
        kind = "infeasible"
    elif status in ("unbounded", "unbounded_inaccurate", "infeasible_or_unbounded"):
        kind = "unbounded"
    else:
        kind = "solver_error"
    bound = math.nan
    if info is not None and n_int and hasattr(info, "mip_dual_bound"):
        # cvxpy hands HiGHS "minimize -welfare": its dual bound is minus a welfare bound.
        bound = -float(info.mip_dual_bound)
    elif kind == "optimal" and problem.value is not None:
        bound = float(problem.value)
    zval = np.asarray(z.value, dtype=float).ravel() if has_solution else None
    return RawSolution(kind, zval, bound, solver_time, str(status))


_HIGHS_BANNER_SILENCED = False


def _silence_highs_banner() -> None:
    """Construct the process's first ``Highs`` with file descriptor 1 on ``/dev/null``.

    HiGHS prints its licence banner from C++ on the first construction in a process, whatever
    ``output_flag`` says later; it would land in every notebook that solves an optimum.
    """
    global _HIGHS_BANNER_SILENCED
    if _HIGHS_BANNER_SILENCED:
        return
    import highspy as hp

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            hp.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _HIGHS_BANNER_SILENCED = True


def _solve_highspy(model: LinearProgram, time_limit: float | None, mip_rel_gap: float) -> RawSolution:
    """Hand the model to HiGHS directly (the solver cvxpy calls, without cvxpy's compile)."""
    import highspy as hp

    solver = hp.Highs()
    solver.setOptionValue("output_flag", False)
    if time_limit is not None:
        solver.setOptionValue("time_limit", float(time_limit))
    if model.n_int:
        solver.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    lp = hp.HighsLp()
    n = model.n_cols
    a = sp.vstack([model.a_eq, model.a_ub]).tocsc()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.sense_ = hp.ObjSense.kMaximize
    lp.col_cost_ = model.c
    lp.col_lower_ = model.lb
    lp.col_upper_ = model.ub
    lp.row_lower_ = np.concatenate([model.b_eq, np.full(model.a_ub.shape[0], -np.inf)])
    lp.row_upper_ = np.concatenate([model.b_eq, model.b_ub])
    lp.a_matrix_.format_ = hp.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if model.n_int:
        lp.integrality_ = [hp.HighsVarType.kInteger] * model.n_int + [
            hp.HighsVarType.kContinuous
        ] * (n - model.n_int)
    solver.passModel(lp)
    solver.run()
    status = solver.getModelStatus()
    info = solver.getInfo()
    kinds = {
        hp.HighsModelStatus.kOptimal: "optimal",
        hp.HighsModelStatus.kTimeLimit: "time_limit",
        hp.HighsModelStatus.kInfeasible: "infeasible",
        hp.HighsModelStatus.kUnbounded: "unbounded",
        hp.HighsModelStatus.kUnboundedOrInfeasible: "unbounded",
        hp.HighsModelStatus.kIterationLimit: "solver_limit",
        hp.HighsModelStatus.kSolutionLimit: "solver_limit",
        hp.HighsModelStatus.kInterrupt: "solver_limit",
    }
    kind = kinds.get(status, "solver_error")
    has_solution = int(info.primal_solution_status) == 2
    zval = np.asarray(solver.getSolution().col_value, dtype=float) if has_solution else None
    if model.n_int:
        bound = float(info.mip_dual_bound)  # maximization: an upper bound on welfare
    else:
        bound = float(info.objective_function_value) if kind == "optimal" else math.nan
    return RawSolution(kind, zval, bound, float(solver.getRunTime()), solver.modelStatusToString(status))


# ---------------------------------------------------------------------------- worker process
def _margin(left: float) -> float:
    """Time kept back from the solver's own limit so that it can stop by itself, with its
    incumbent and bound, before the deadline: HiGHS overran limits of 0.5-4 s by 0.2-0.4 s
    on a 150 x 150 unsplittable market (measured on a loaded 2-core machine)."""
    return min(2.0, 0.25 * left)


class _Worker:
    """One solver process, started on first use and reused until it has to be killed.

    Jobs go through a pipe as ``(fields of the LinearProgram, backend, solver, deadline,
    solver_limit, mip_rel_gap)`` and answers come back as the fields of a :class:`RawSolution`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.jobs: Connection | None = None
        self.answers: Connection | None = None
        self.warm: set[str] = set()
        self.exit_hook = False

    def _start(self) -> None:
        job_r, job_w = os.pipe()
        ans_r, ans_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), str(job_r), str(ans_w)],
                pass_fds=(job_r, ans_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # HiGHS prints its banner on fd 1
            )
        finally:
            os.close(job_r)
            os.close(ans_w)
        self.jobs = Connection(job_w, readable=False)
        self.answers = Connection(ans_r, writable=False)
        self.warm = set()
        if not self.exit_hook:
            atexit.register(self.close)
            self.exit_hook = True

    def close(self) -> None:
        """End an idle worker: closing its job pipe makes it return (killed after 2 s)."""
        if self.jobs is not None:
            self.jobs.close()
            self.jobs = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
        self._stop()

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        for conn in (self.jobs, self.answers):
            if conn is not None:
                conn.close()
        self.proc = self.jobs = self.answers = None

    def prepare(self, backend: str) -> None:
        """Start the process if needed and have it import ``backend``'s solver (not timed)."""
        if self.proc is None or self.proc.poll() is not None:
            self._stop()
            self._start()
        if backend not in self.warm:
            assert self.jobs is not None and self.answers is not None
            self.jobs.send(("import", backend))
            self.answers.recv()
            self.warm.add(backend)

    def solve(
        self, program: LinearProgram, backend: str, solver: str, deadline: float,
        solver_limit: float | None, mip_rel_gap: float,
    ) -> RawSolution:
        assert self.jobs is not None and self.answers is not None
        job = {f.name: getattr(program, f.name) for f in fields(LinearProgram)}
        try:
            self.jobs.send(("solve", job, backend, solver, deadline, solver_limit, mip_rel_gap))
            if self.answers.poll(max(0.0, deadline - time.time())):
                return RawSolution(*self.answers.recv())
        except (EOFError, OSError) as exc:
            code = self.proc.poll() if self.proc is not None else None
            self._stop()
            return RawSolution(
                "solver_error", None, math.nan, math.nan,
                f"the solver process ended without an answer ({type(exc).__name__}, exit code {code})",
            )
        except BaseException:  # KeyboardInterrupt while waiting: never leave a solver running
            self._stop()
            raise
        self._stop()
        return RawSolution(
            "time_limit", None, math.nan, math.nan,
            "stopped at the time limit: the solver had not returned (HiGHS overruns its own "
            "limit in some phases)",
        )


_WORKER = _Worker()


def solve_before(
    program: LinearProgram,
    seconds: float,
    *,
    backend: str,
    solver: str,
    mip_rel_gap: float,
    solver_limit: float | None = None,
) -> tuple[RawSolution, float]:
    """Solve ``program`` in the worker process and stop it after ``seconds`` if still running.

    Parameters
    ----------
    program : LinearProgram
    seconds : float
        Time the solve may take, counted once the worker is ready.
    backend, solver, mip_rel_gap
        As for :func:`run_backend`.
    solver_limit : float, optional
        The solver's own time limit; by default what is left of ``seconds`` in the worker,
        less a margin to hand the answer over. A larger one stands for a solver that overruns
        its limit (the tests use it to check that the deadline holds).

    Returns
    -------
    (RawSolution, float)
        The answer (``status="time_limit"`` with no solution when the worker was stopped) and
        the seconds spent starting the worker and importing the solver, which only the first
        time-limited solve of a session (or the first after a stopped one) pays.
    """
    with _WORKER.lock:
        start = time.perf_counter()
        _WORKER.prepare(backend)
        setup = time.perf_counter() - start
        if seconds <= 0:
            return RawSolution("time_limit", None, math.nan, math.nan, "no time left for the solver"), setup
        deadline = time.time() + seconds
        return _WORKER.solve(program, backend, solver, deadline, solver_limit, mip_rel_gap), setup


def _serve(job_fd: int, answer_fd: int) -> None:
    """The worker's loop: answer jobs until the parent closes the pipe.

    The worker ignores SIGINT: a terminal's Ctrl-C or a notebook kernel shutting down signals
    the whole process group, and the parent alone decides (on its own KeyboardInterrupt it kills
    a running solve, :meth:`_Worker.solve`); otherwise the worker would die with a
    KeyboardInterrupt traceback on the shared stderr. It ends quietly when the parent closes the
    pipes or exits (end of file, broken pipe).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    jobs = Connection(job_fd, writable=False)
    answers = Connection(answer_fd, readable=False)
    while True:
        try:
            message = jobs.recv()
        except (EOFError, OSError):
            return
        if message[0] == "import":
            if message[1] == "cvxpy":
                import cvxpy  # noqa: F401
            import highspy  # noqa: F401

            if not _answer(answers, True):
                return
            continue
        _, job, backend, solver, deadline, solver_limit, mip_rel_gap = message
        try:
            left = deadline - time.time()
            limit = left - _margin(left) if solver_limit is None else solver_limit
            if limit <= 0:
                raw = RawSolution("time_limit", None, math.nan, math.nan, "no time left for the solver")
            else:
                raw = run_backend(LinearProgram(**job), backend, solver, limit, mip_rel_gap)
        except Exception as exc:  # reported to the parent as a solver error, with the message
            raw = RawSolution("solver_error", None, math.nan, math.nan, f"{type(exc).__name__}: {exc}")
        if not _answer(answers, (raw.status, raw.z, raw.bound, raw.solver_time_s, raw.message)):
            return


def _answer(answers: Connection, message: Any) -> bool:
    """Send ``message`` to the parent; False when it has gone (the worker then ends quietly)."""
    try:
        answers.send(message)
    except OSError:  # BrokenPipeError: the parent exited or stopped listening
        return False
    return True


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
