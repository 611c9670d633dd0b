"""What optimistic verification costs against the alternatives, at real model scale (section 5).

The whitepaper justifies optimistic fault proofs against zkML with a qualitative table (its
Table 1: model size, proof type, proof speed "delayed due to challenges", security,
:data:`WHITEPAPER_TABLE_1`). :func:`tradeoff_table` puts numbers on it for one Llama-2-7B
request and one SDXL request, per approach:

* ``optimistic`` (this project): recomputed here from the shipped op-level graphs
  (``data/model_graphs``) with :func:`~oasis_lab.disputes.economics.dispute_costs`: rounds to
  finality, hashes exchanged, bytes opened and referee compute of a dispute (worst case over
  every node), bonds locked, and the expected extra compute per task at a challenge rate
  ``challenge_rate`` (each challenge costs the challenger one re-execution and the referee one
  node). Committing hashes every node output of every task (``commit_hash_s``, shown apart:
  it is paid whether or not anyone challenges, and for SDXL's 1.1 TB of activations it is the
  largest cost of the design).
* ``zkml``: published prover figures (``data/verification_published.csv``, sources in
  ``data/README.md``); where none exists at the model's scale the row scales the closest
  published one by FLOPs and says "estimate".
* ``sampling``: published figures for activation-hash proofs of inference (TOPLOC).
* ``redundant``: ``k``-fold execution, computed from the graph's FLOPs.

Seconds are GPU seconds on a reference device (peak FP32 throughput from
``data/device_profiles.csv`` times a utilisation, both parameters): every number derived that
way carries the label ``estimate``. Rows state their security assumption in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oasis_lab import paths
from oasis_lab.checks import check_fraction, check_int, check_real
from oasis_lab.disputes.economics import dispute_costs
from oasis_lab.disputes.graph import DisputeGraph
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.profiles import PROFILES, profile_graph

__all__ = [
    "MAX_REDUNDANCY",
    "PUBLISHED_PATH",
    "TABLE_COLUMNS",
    "WHITEPAPER_TABLE_1",
    "ReferenceDevice",
    "load_published",
    "optimistic_row",
    "redundant_row",
    "tradeoff_table",
]

PUBLISHED_PATH = paths.DATA_DIR / "verification_published.csv"

#: The whitepaper's Table 1 ("Tradeoffs for existing inference verification techniques"),
#: section 5, quoted.
WHITEPAPER_TABLE_1 = pd.DataFrame(
    {
        "Optimistic Proof": [
            "Arbitrary size",
            "Fraud Proof",
            "Delayed due to challenges",
            "crypto-economic security",
        ],
        "zkML": ["Small/Limited", "zk-SNARK (validity proof)", "Quick/No delays", "ZK/Cryptographic"],
    },
    index=pd.Index(["Model size", "Proof Type", "Proof Speed", "Security"], name="whitepaper Table 1"),
)

#: Columns of :func:`tradeoff_table`.
TABLE_COLUMNS: tuple[str, ...] = (
    "model",
    "approach",
    "system",
    "extra_gpu_s_per_task",
    "commit_hash_s",
    "finality_s",
    "finality_challenged_s",
    "security_assumption",
    "proof_bytes",
    "verifier_work",
    "bonds_locked",
    "largest_model_reached_m",
    "label",
    "source",
    "note",
)

_PUBLISHED_COLUMNS = (
    "key", "approach", "system", "model", "model_params_m", "prove_time_s", "proof_bytes",
    "verify_time_s", "memory_gb", "bytes_per_token", "detection_rate", "validation_speedup",
    "bound", "source", "note",
)
_BOUNDS = ("upper", "lower", "exact")

#: Largest ``k`` of redundant execution: ``k - 1`` inferences are counted in float64, exact up
#: to 2**53.
MAX_REDUNDANCY = 2**53

#: Tokens per request of the Llama-2-7B profile (512 prompt + 256 generated), for per-token
#: published figures.
_LLAMA_TOKENS = 768
_LLAMA_GENERATED = 256


def load_published(path: str | Path = PUBLISHED_PATH) -> pd.DataFrame:
    """The published figures of ``data/verification_published.csv``, checked.

    Raises
    ------
    ValueError
        A missing column, a row without a source, an unknown ``bound`` or approach, or a
        negative number.
    """
    frame = pd.read_csv(path)
    missing = [c for c in _PUBLISHED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    if frame["source"].isna().any() or (frame["source"].astype(str).str.strip() == "").any():
        bad = frame.loc[frame["source"].isna(), "key"].tolist()
        raise ValueError(f"{path}: rows without a source: {bad}")
    if not frame["bound"].isin(_BOUNDS).all():
        raise ValueError(f"{path}: bound must be one of {list(_BOUNDS)}")
    if not frame["approach"].isin(("zkml", "sampling")).all():
        raise ValueError(f"{path}: approach must be zkml or sampling")
    numeric = frame.select_dtypes("number")
    if (numeric < 0).any().any():
        raise ValueError(f"{path}: negative figures")
    return frame.set_index("key", drop=False)


@dataclass(frozen=True)
class ReferenceDevice:
    """The device that turns FLOPs into GPU seconds (an *estimate*: peak times utilisation).

    Parameters
    ----------
    name : str
        A row of ``data/device_profiles.csv``.
    utilization : float, default 0.4
        Share of peak FP32 throughput a real inference reaches (an assumption).
    hash_gbs : float, default 1.0
        SHA-256 throughput for commitments, GB/s (an assumption: one CPU core is of this order).
    """

    name: str = "NVIDIA GeForce RTX 4090"
    utilization: float = 0.4
    hash_gbs: float = 1.0

    def __post_init__(self) -> None:
        if check_fraction("utilization", self.utilization) == 0:
            raise ValueError("utilization = 0 must be > 0")
        check_real("hash_gbs", self.hash_gbs, positive=True)

    @property
    def flops_per_s(self) -> float:
        """Sustained FLOP/s: peak FP32 of ``name`` times ``utilization``."""
        from oasis_lab.market import load_device_profiles

        devices = load_device_profiles().set_index("name")
        if self.name not in devices.index:
            raise ValueError(f"device name = {self.name!r} is not in data/device_profiles.csv")
        return float(devices.loc[self.name, "fp32_tflops"]) * 1e12 * self.utilization

    def seconds(self, flops: float) -> float:
        """GPU seconds for ``flops`` on this device."""
        return flops / self.flops_per_s


def _check_model(model: object) -> str:
    if not isinstance(model, str) or model not in PROFILES:
        raise ValueError(f"model = {model!r} is not one of {sorted(PROFILES)}")
    return model


def _graph(model: str) -> DisputeGraph:
    return profile_graph(_check_model(model))


def optimistic_row(
    model: str,
    *,
    arity: int = 2,
    challenge_rate: float = 0.05,
    challenge_window_s: float = 3600.0,
    params: DisputeParams | None = None,
    device: ReferenceDevice | None = None,
) -> dict[str, object]:
    """The optimistic fault-proof row for ``model``, recomputed from its graph profile.

    Parameters
    ----------
    model : {"llama-2-7b", "sdxl-base-1.0"}
    arity : int
        Dissection arity.
    challenge_rate : float
        Share of tasks challenged (pass the incentives layer's equilibrium rate when known).
    challenge_window_s : float
        How long a result waits for challenges before it is final (a parameter of the design).
    params : DisputeParams, optional
        Round clock, stake and bond.
    device : ReferenceDevice, optional

    Returns
    -------
    dict
        A row of :func:`tradeoff_table`, plus the dispute's measured counts (``rounds_max``,
        ``hashes_max``, ``opened_mb_max``, ``referee_share_max``, ``referee_share_mean``,
        ``committed_bytes``, ``inference_tflop``).
    """
    params = params if params is not None else DisputeParams()
    device = device if device is not None else ReferenceDevice()
    rate = check_fraction("challenge_rate", challenge_rate)
    window = check_real("challenge_window_s", challenge_window_s, minimum=0.0)
    graph = _graph(model)
    costs = dispute_costs(graph, check_int("arity", arity, 2))
    summary = costs.summary()
    inference_s = device.seconds(costs.total_flops)
    # a challenge: the challenger re-executes the whole inference, the referee one node
    referee_s_max = device.seconds(float(costs.referee_flops.max()))
    per_challenge_s = inference_s + device.seconds(float(costs.referee_flops.mean()))
    committed = int(graph.output_bytes.sum())
    hash_s = committed / (device.hash_gbs * 1e9)
    rounds = int(summary["rounds_max"])
    return {
        "model": model,
        "approach": "optimistic",
        "system": f"fault proof, arity {arity}, challenge rate {rate:g}",
        "extra_gpu_s_per_task": rate * per_challenge_s,
        "commit_hash_s": hash_s,
        "finality_s": window,
        # window, then every round answered at the clock, then the referee's node
        "finality_challenged_s": window + rounds * params.round_timeout_s + referee_s_max,
        "security_assumption": "one honest challenger re-executes; p (S + P) >= G deters; "
        "trusted referee (or appeal to it)",
        "proof_bytes": 32,
        "verifier_work": f"one node: at most {summary['referee_share_max']:.2%} of the inference",
        "bonds_locked": params.provider_stake + params.challenger_bond,
        "largest_model_reached_m": math.nan,
        "label": "computed (graph profile); GPU seconds: estimate",
        "source": f"this project: data/model_graphs/{model}.csv, disputes.economics.dispute_costs",
        "note": f"{graph.n_nodes:,} nodes, {rounds} rounds, {summary['hashes_max']} hashes, "
        f"{summary['opened_mb_max']:.3g} MB opened (worst case)",
        "rounds_max": rounds,
        "hashes_max": int(summary["hashes_max"]),
        "opened_mb_max": float(summary["opened_mb_max"]),
        "referee_share_max": float(summary["referee_share_max"]),
        "referee_share_mean": float(summary["referee_share_mean"]),
        "committed_bytes": committed,
        "inference_tflop": float(summary["inference_tflop"]),
        "inference_gpu_s": inference_s,
    }


def redundant_row(model: str, *, k: int = 3, device: ReferenceDevice | None = None) -> dict[str, object]:
    """``k``-fold redundant execution of ``model``: ``k - 1`` extra inferences per task."""
    device = device if device is not None else ReferenceDevice()
    k = check_int("k", k, 2, MAX_REDUNDANCY)
    graph = _graph(model)
    inference_s = device.seconds(float(graph.flops.sum()))
    return {
        "model": model,
        "approach": "redundant",
        "system": f"{k}-fold execution, majority vote",
        "extra_gpu_s_per_task": (k - 1) * inference_s,
        "commit_hash_s": 0.0,  # the k results are compared, not committed node by node
        "finality_s": inference_s,
        "finality_challenged_s": inference_s,
        "security_assumption": f"an honest majority of the {k} providers; colluders win",
        "proof_bytes": 32 * k,
        "verifier_work": f"{k} full inferences",
        "bonds_locked": 0,
        "largest_model_reached_m": math.nan,
        "label": "computed (graph FLOPs); GPU seconds: estimate",
        "source": f"this project: data/model_graphs/{model}.csv",
        "note": f"{k}x the compute of one inference",
    }


def _zkml_row(model: str, published: pd.DataFrame, device: ReferenceDevice) -> dict[str, object]:
    graph = _graph(model)
    zk = published.loc["zkllm-13b"]
    largest = float(published.loc[published["approach"] == "zkml", "model_params_m"].max())
    base = {
        "model": model,
        "approach": "zkml",
        "system": zk["system"],
        "security_assumption": "cryptographic (soundness of the proof system)",
        "proof_bytes": float(zk["proof_bytes"]),
        "verifier_work": "verify a succinct proof",
        "commit_hash_s": 0.0,  # commitments are part of the proving time
        "bonds_locked": 0,
        "largest_model_reached_m": largest,
    }
    if model == "llama-2-7b":
        # the 13B figure bounds a 7B proof from above (same family, fewer parameters)
        return {
            **base,
            "extra_gpu_s_per_task": float(zk["prove_time_s"]),
            "finality_s": float(zk["prove_time_s"]),
            "finality_challenged_s": float(zk["prove_time_s"]),
            "label": "published (13B model: an upper bound for 7B)",
            "source": zk["source"],
            "note": f"< {zk['prove_time_s']:g} s and < {zk['proof_bytes'] / 1e3:g} kB for "
            f"{zk['model']}; circuit memory for a 7B Llama >= "
            f"{published.loc['circuit-llama-7b', 'memory_gb']:g} GB by the whitepaper's source",
        }
    # no published zk proof of a diffusion model at this scale: scale zkLLM by FLOPs
    zk_flops = 2.0 * float(zk["model_params_m"]) * 1e6 * 2048  # 13B over its 2,048-token setting
    prove_s = float(zk["prove_time_s"]) * float(graph.flops.sum()) / zk_flops
    return {
        **base,
        "extra_gpu_s_per_task": prove_s,
        "finality_s": prove_s,
        "finality_challenged_s": prove_s,
        "label": "estimate (zkLLM's time per FLOP; no zk proof of a diffusion model at this "
        "scale is published)",
        "source": f"{zk['source']}, scaled by this project's FLOPs",
        "note": f"{zk['prove_time_s']:g} s for 2 x 13e9 x 2048 FLOP, scaled to "
        f"{graph.flops.sum() / 1e12:.1f} TFLOP",
    }


def _sampling_row(model: str, published: pd.DataFrame, device: ReferenceDevice) -> dict[str, object]:
    top = published.loc["toploc-llama-3.1-8b"]
    graph = _graph(model)
    inference_s = device.seconds(float(graph.flops.sum()))
    base = {
        "model": model,
        "approach": "sampling",
        "system": top["system"],
        "security_assumption": "statistical: a validator recomputes and compares activation "
        "hashes within thresholds; detection as measured by the authors",
        "bonds_locked": 0,
        "commit_hash_s": 0.0,  # the activation hashes are a by-product of the inference
        "largest_model_reached_m": float(top["model_params_m"]),
        "source": top["source"],
    }
    if model != "llama-2-7b":
        return {
            **base,
            "extra_gpu_s_per_task": math.nan,
            "finality_s": math.nan,
            "finality_challenged_s": math.nan,
            "proof_bytes": math.nan,
            "verifier_work": "not published for diffusion models",
            "label": "no published figure",
            "note": "TOPLOC hashes LLM hidden states; no figures for image generation",
        }
    validate_s = inference_s / float(top["validation_speedup"])
    return {
        **base,
        "extra_gpu_s_per_task": validate_s,
        "finality_s": inference_s + validate_s,
        "finality_challenged_s": inference_s + validate_s,
        "proof_bytes": float(top["bytes_per_token"]) * _LLAMA_GENERATED,
        "verifier_work": f"prefill recomputation, up to {top['validation_speedup']:g}x faster "
        "than inference",
        "label": "published (bytes per token, detection, speed-up); GPU seconds: estimate",
        "note": f"{top['bytes_per_token']:g} bytes per generated token x {_LLAMA_GENERATED}; "
        f"detection {top['detection_rate']:.0%} in the authors' tests",
    }


def tradeoff_table(
    models: tuple[str, ...] = ("llama-2-7b", "sdxl-base-1.0"),
    *,
    arity: int = 2,
    challenge_rate: float = 0.05,
    challenge_window_s: float = 3600.0,
    redundancy: int = 3,
    params: DisputeParams | None = None,
    device: ReferenceDevice | None = None,
    published: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cost per task, time to finality and security assumption per approach and model.

    Parameters
    ----------
    models : tuple of str
        Keys of the graph profiles.
    arity, challenge_rate, challenge_window_s, params
        Of the optimistic rows (:func:`optimistic_row`).
    redundancy : int
        ``k`` of the redundant-execution rows.
    device : ReferenceDevice, optional
    published : DataFrame, optional
        Default :func:`load_published`.

    Returns
    -------
    DataFrame
        Columns :data:`TABLE_COLUMNS`; every row has a ``source`` and a ``label``
        (``published``, ``computed`` or ``estimate``, as the row's numbers are).
    """
    if isinstance(models, (str, bytes)) or not isinstance(models, (tuple, list)):
        raise TypeError(f"models must be a tuple of model names among {sorted(PROFILES)}, got {models!r}")
    if not models:
        raise ValueError(f"models is empty; choose among {sorted(PROFILES)}")
    for model in models:
        _check_model(model)  # an unknown model fails here, before any row is computed
    check_int("redundancy", redundancy, 2, MAX_REDUNDANCY)
    check_int("arity", arity, 2)
    device = device if device is not None else ReferenceDevice()
    published = published if published is not None else load_published()
    rows = []
    for model in models:
        rows.append(
            optimistic_row(
                model,
                arity=arity,
                challenge_rate=challenge_rate,
                challenge_window_s=challenge_window_s,
                params=params,
                device=device,
            )
        )
        rows.append(_zkml_row(model, published, device))
        rows.append(_sampling_row(model, published, device))
        rows.append(redundant_row(model, k=redundancy, device=device))
    frame = pd.DataFrame(rows)
    out = frame.loc[:, list(TABLE_COLUMNS)].copy()
    for col in ("extra_gpu_s_per_task", "commit_hash_s", "finality_s", "finality_challenged_s", "proof_bytes"):
        out[col] = out[col].astype(np.float64)
    return out
