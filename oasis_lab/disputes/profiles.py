"""Op-level graph profiles of Llama-2-7B and SDXL base from their published architectures.

Section 5 disputes "the challenged inference" of models "such as Llama and SDXL" (section 4.2)
over the model DAG in topological order. Running them is out of reach here, but a dispute's
cost only needs the DAG: node count (rounds), each node's FLOPs (the referee's work) and
output bytes (what an opening sends). The generators below compute these from the
architectures' hyper-parameters; ``data/model_graphs/*.csv`` are their shipped output
(sources in ``data/README.md``).

Readings taken
--------------
* **Granularity**: one node per op (projection, attention scores, softmax, norm, residual
  add, ...), as in the executed models of ``oasis_lab.gpu.model``.
* **Llama-2-7B request** (``llama-2-7b``): 512 prompt + 256 generated tokens, checked as one
  teacher-forced forward pass over the 768 tokens (sampling fixed by the seed), batch 1,
  fp16 activations (fp32 logits). Decoding token by token instead would repeat the graph 256
  times (about 140,000 nodes, 8 more bisection rounds at arity 2).
* **SDXL base request** (``sdxl-base-1.0``): a 1024x1024 image (128x128x4 latent), 30
  Euler steps with classifier-free guidance (the UNet runs at batch 2), an empty negative
  prompt (zeroed embeddings, so the text encoders run once at batch 1), fp16 activations,
  the VAE decoder in fp32 (the SDXL VAE is upcast). The CSV lists the 30-times repeated rows
  (UNet and scheduler) once with ``repeat = 30``; :func:`graph_from_profile` unrolls them.
  An input ``X@prev`` is node ``X`` of the previous repetition (dropped in the first, where
  the public initial noise is read instead).
* **FLOPs**: ``2 m k n`` per matmul and ``2 C_in C_out k^2 H W`` per convolution (plus
  biases); attention counts ``2 h N_q N_k d_h`` for scores and again for the context (causal:
  only the ``N (N + 1) / 2`` visible pairs); element-wise ops count the per-element constants
  in :data:`ELEMENTWISE_FLOPS`.
* **Parameters** per node are listed too: they add up to the published counts (Llama-2-7B
  6,738,415,616; SDXL UNet 2,567,463,684; CLIP ViT-L text 123,060,480; OpenCLIP bigG text
  with projection 694,659,840), which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from oasis_lab import paths
from oasis_lab.disputes.graph import DisputeGraph, graph_from_edges

__all__ = [
    "ELEMENTWISE_FLOPS",
    "PROFILES",
    "PROFILE_COLUMNS",
    "PROFILE_DIR",
    "generate_profile",
    "graph_from_profile",
    "llama2_7b_profile",
    "load_profile",
    "profile_graph",
    "sdxl_base_profile",
    "write_profiles",
]

PROFILE_DIR = paths.PROFILE_DIR
PROFILE_COLUMNS = ("name", "stage", "op", "inputs", "flops", "output_bytes", "params", "repeat")

#: FLOPs per output element of element-wise ops (estimates: exp, rsqrt and tanh count as one).
ELEMENTWISE_FLOPS: dict[str, int] = {
    "add": 1,
    "mul": 1,
    "rmsnorm": 4,
    "layernorm": 5,
    "groupnorm": 5,
    "silu": 4,
    "gelu": 8,
    "quick_gelu": 5,
    "silu_mul": 5,
    "geglu": 9,
    "softmax": 5,
    "rope": 3,
    "cfg": 3,
    "euler_step": 4,
    "scale": 1,
}


class _Builder:
    """Accumulates profile rows; each ``add`` returns the node's name for wiring."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(
        self,
        name: str,
        op: str,
        inputs: tuple[str, ...],
        flops: float,
        out_elems: int,
        bytes_per: int,
        *,
        stage: str,
        params: int = 0,
        repeat: int = 1,
    ) -> str:
        self.rows.append(
            {
                "name": name,
                "stage": stage,
                "op": op,
                "inputs": ";".join(inputs),
                "flops": round(flops),
                "output_bytes": int(out_elems) * bytes_per,
                "params": int(params),
                "repeat": int(repeat),
            }
        )
        return name

    def elementwise(self, name: str, op: str, inputs: tuple[str, ...], elems: int, bytes_per: int, **kw) -> str:
        return self.add(name, op, inputs, ELEMENTWISE_FLOPS[op] * elems, elems, bytes_per, **kw)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(PROFILE_COLUMNS))


def _linear(m: int, k: int, n: int, bias: bool) -> tuple[float, int]:
    """FLOPs and parameters of ``(m, k) @ (k, n) (+ b)``."""
    return 2.0 * m * k * n + (m * n if bias else 0), k * n + (n if bias else 0)


# --------------------------------------------------------------------------------- Llama-2-7B


def llama2_7b_profile(
    *,
    prompt_tokens: int = 512,
    new_tokens: int = 256,
    layers: int = 32,
    d_model: int = 4096,
    heads: int = 32,
    ffn: int = 11008,
    vocab: int = 32000,
    act_bytes: int = 2,
    logit_bytes: int = 4,
) -> pd.DataFrame:
    """Op-level profile of a Llama-2-7B request (Touvron et al. 2023).

    Pre-RMSNorm decoder: per layer ``q, k, v`` projections, rotary embedding of ``q`` and
    ``k``, causal attention scores, softmax, context, output projection, residual add, then
    RMSNorm, SwiGLU MLP (``gate``, ``up``, ``silu(gate) * up``, ``down``) and residual add;
    final RMSNorm, untied ``lm_head`` and a ``sample`` node (the seeded next-token draw).

    Parameters
    ----------
    prompt_tokens, new_tokens : int
        The request; the profile is one teacher-forced pass over ``T = prompt + new`` tokens.
    layers, d_model, heads, ffn, vocab : int
        Architecture (defaults: Llama-2-7B).
    act_bytes, logit_bytes : int
        Bytes per activation element (fp16) and per logit (fp32).

    Returns
    -------
    DataFrame
        Columns :data:`PROFILE_COLUMNS`, one row per node in topological order.
    """
    T = prompt_tokens + new_tokens
    d, f, V, h = d_model, ffn, vocab, heads
    dh = d // h
    pairs = T * (T + 1) // 2  # causal (query, key) pairs
    b = _Builder()
    st = "decoder"
    x = b.add("embed_tokens", "embedding", (), 0, T * d, act_bytes, stage=st, params=V * d)
    for i in range(layers):
        p = f"layers.{i}."
        n1 = b.elementwise(p + "input_layernorm", "rmsnorm", (x,), T * d, act_bytes, stage=st)
        b.rows[-1]["params"] = d
        proj = {}
        for name in ("q_proj", "k_proj", "v_proj"):
            fl, pa = _linear(T, d, d, bias=False)
            proj[name] = b.add(p + "self_attn." + name, "matmul", (n1,), fl, T * d, act_bytes, stage=st, params=pa)
        q = b.elementwise(p + "self_attn.rope_q", "rope", (proj["q_proj"],), T * d, act_bytes, stage=st)
        k = b.elementwise(p + "self_attn.rope_k", "rope", (proj["k_proj"],), T * d, act_bytes, stage=st)
        s = b.add(
            p + "self_attn.scores", "attention_scores", (q, k), 2.0 * h * pairs * dh, h * T * T, act_bytes, stage=st
        )
        sm = b.add(
            p + "self_attn.softmax",
            "softmax",
            (s,),
            ELEMENTWISE_FLOPS["softmax"] * h * pairs,
            h * T * T,
            act_bytes,
            stage=st,
        )
        ctx = b.add(
            p + "self_attn.context",
            "attention_context",
            (sm, proj["v_proj"]),
            2.0 * h * pairs * dh,
            T * d,
            act_bytes,
            stage=st,
        )
        fl, pa = _linear(T, d, d, bias=False)
        o = b.add(p + "self_attn.o_proj", "matmul", (ctx,), fl, T * d, act_bytes, stage=st, params=pa)
        r1 = b.elementwise(p + "attn_residual", "add", (x, o), T * d, act_bytes, stage=st)
        n2 = b.elementwise(p + "post_attention_layernorm", "rmsnorm", (r1,), T * d, act_bytes, stage=st)
        b.rows[-1]["params"] = d
        fl, pa = _linear(T, d, f, bias=False)
        g = b.add(p + "mlp.gate_proj", "matmul", (n2,), fl, T * f, act_bytes, stage=st, params=pa)
        u = b.add(p + "mlp.up_proj", "matmul", (n2,), fl, T * f, act_bytes, stage=st, params=pa)
        a = b.elementwise(p + "mlp.silu_mul", "silu_mul", (g, u), T * f, act_bytes, stage=st)
        fl, pa = _linear(T, f, d, bias=False)
        dn = b.add(p + "mlp.down_proj", "matmul", (a,), fl, T * d, act_bytes, stage=st, params=pa)
        x = b.elementwise(p + "mlp_residual", "add", (r1, dn), T * d, act_bytes, stage=st)
    n = b.elementwise("norm", "rmsnorm", (x,), T * d, act_bytes, stage=st)
    b.rows[-1]["params"] = d
    fl, pa = _linear(T, d, V, bias=False)
    logits = b.add("lm_head", "matmul", (n,), fl, T * V, logit_bytes, stage=st, params=pa)
    b.add("sample", "sample", (logits,), ELEMENTWISE_FLOPS["softmax"] * T * V, T, 4, stage=st)
    return b.frame()


# --------------------------------------------------------------------------------- SDXL base


class _Net:
    """Helpers shared by the SDXL components (convolutions, resnets, attention blocks)."""

    def __init__(self, b: _Builder, stage: str, act_bytes: int, batch: int, repeat: int = 1) -> None:
        self.b, self.stage, self.bytes, self.batch, self.repeat = b, stage, act_bytes, batch, repeat

    def add(self, name: str, op: str, inputs: tuple[str, ...], flops: float, elems: int, params: int = 0) -> str:
        return self.b.add(
            name, op, inputs, flops, elems, self.bytes, stage=self.stage, params=params, repeat=self.repeat
        )

    def ew(self, name: str, op: str, inputs: tuple[str, ...], elems: int, params: int = 0) -> str:
        return self.add(name, op, inputs, ELEMENTWISE_FLOPS[op] * elems, elems, params)

    def conv(self, name: str, x: str, cin: int, cout: int, k: int, hw: int) -> str:
        n = self.batch * hw * hw
        return self.add(
            name, "conv2d", (x,), 2.0 * cin * cout * k * k * n + cout * n, cout * n, cin * cout * k * k + cout
        )

    def linear(self, name: str, x: str, tokens: int, cin: int, cout: int, bias: bool = True) -> str:
        fl, pa = _linear(self.batch * tokens, cin, cout, bias)
        return self.add(name, "matmul", (x,), fl, self.batch * tokens * cout, pa)

    def groupnorm(self, name: str, x: str, c: int, hw: int) -> str:
        return self.ew(name, "groupnorm", (x,), self.batch * c * hw * hw, params=2 * c)

    def resnet(self, p: str, x: str, cin: int, cout: int, hw: int, temb: str | None) -> str:
        n = self.batch * hw * hw
        h = self.groupnorm(p + "norm1", x, cin, hw)
        h = self.ew(p + "nonlinearity1", "silu", (h,), cin * n)
        h = self.conv(p + "conv1", h, cin, cout, 3, hw)
        if temb is not None:
            t = self.linear(p + "time_emb_proj", temb, 1, 1280, cout)
            h = self.ew(p + "add_temb", "add", (h, t), cout * n)
        h = self.groupnorm(p + "norm2", h, cout, hw)
        h = self.ew(p + "nonlinearity2", "silu", (h,), cout * n)
        h = self.conv(p + "conv2", h, cout, cout, 3, hw)
        skip = x
        if cin != cout:
            skip = self.conv(p + "conv_shortcut", x, cin, cout, 1, hw)
        return self.ew(p + "residual", "add", (skip, h), cout * n)

    def attention(
        self,
        p: str,
        q_in: str,
        kv_in: str,
        nq: int,
        nk: int,
        c: int,
        ckv: int,
        heads: int,
        out_bias: bool = True,
        qkv_bias: bool = False,
    ) -> str:
        B = self.batch
        dh = c // heads
        q = self.linear(p + "to_q", q_in, nq, c, c, bias=qkv_bias)
        k = self.linear(p + "to_k", kv_in, nk, ckv, c, bias=qkv_bias)
        v = self.linear(p + "to_v", kv_in, nk, ckv, c, bias=qkv_bias)
        s = self.add(p + "scores", "attention_scores", (q, k), 2.0 * B * heads * nq * nk * dh, B * heads * nq * nk)
        sm = self.ew(p + "softmax", "softmax", (s,), B * heads * nq * nk)
        ctx = self.add(p + "context", "attention_context", (sm, v), 2.0 * B * heads * nq * nk * dh, B * nq * c)
        return self.linear(p + "to_out", ctx, nq, c, c, bias=out_bias)

    def transformer(
        self, p: str, x: str, c: int, hw: int, depth: int, text: str, text_tokens: int, text_dim: int
    ) -> str:
        B, N = self.batch, hw * hw
        heads = c // 64
        h = self.groupnorm(p + "norm", x, c, hw)
        h = self.linear(p + "proj_in", h, N, c, c)
        for j in range(depth):
            q = f"{p}transformer_blocks.{j}."
            n1 = self.ew(q + "norm1", "layernorm", (h,), B * N * c, params=2 * c)
            a1 = self.attention(q + "attn1.", n1, n1, N, N, c, c, heads)
            h = self.ew(q + "attn1.residual", "add", (h, a1), B * N * c)
            n2 = self.ew(q + "norm2", "layernorm", (h,), B * N * c, params=2 * c)
            a2 = self.attention(q + "attn2.", n2, text, N, text_tokens, c, text_dim, heads)
            h = self.ew(q + "attn2.residual", "add", (h, a2), B * N * c)
            n3 = self.ew(q + "norm3", "layernorm", (h,), B * N * c, params=2 * c)
            g = self.linear(q + "ff.geglu_proj", n3, N, c, 8 * c)
            g = self.ew(q + "ff.geglu", "geglu", (g,), B * N * 4 * c)
            g = self.linear(q + "ff.out", g, N, 4 * c, c)
            h = self.ew(q + "ff.residual", "add", (h, g), B * N * c)
        h = self.linear(p + "proj_out", h, N, c, c)
        return self.ew(p + "residual", "add", (x, h), B * N * c)


def _clip_text(
    b: _Builder,
    stage: str,
    *,
    layers: int,
    d: int,
    heads: int,
    act: str,
    tokens: int,
    vocab: int,
    act_bytes: int,
    projection: int = 0,
) -> tuple[str, str | None]:
    """A CLIP text transformer (pre-LN, causal); returns (penultimate hidden states, pooled)."""
    net = _Net(b, stage, act_bytes, batch=1)
    T = tokens
    x = net.add(f"{stage}.embeddings", "embedding", (), T * d, T * d, params=vocab * d + tokens * d)
    penultimate = x
    for i in range(layers):
        p = f"{stage}.layers.{i}."
        n1 = net.ew(p + "layer_norm1", "layernorm", (x,), T * d, params=2 * d)
        # CLIP attention: causal over 77 tokens, biases on q, k, v and out
        pairs = T * (T + 1) // 2
        q = net.linear(p + "self_attn.q_proj", n1, T, d, d)
        k = net.linear(p + "self_attn.k_proj", n1, T, d, d)
        v = net.linear(p + "self_attn.v_proj", n1, T, d, d)
        dh = d // heads
        s = net.add(p + "self_attn.scores", "attention_scores", (q, k), 2.0 * heads * pairs * dh, heads * T * T)
        sm = net.add(
            p + "self_attn.softmax", "softmax", (s,), ELEMENTWISE_FLOPS["softmax"] * heads * pairs, heads * T * T
        )
        ctx = net.add(p + "self_attn.context", "attention_context", (sm, v), 2.0 * heads * pairs * dh, T * d)
        o = net.linear(p + "self_attn.out_proj", ctx, T, d, d)
        r = net.ew(p + "attn_residual", "add", (x, o), T * d)
        n2 = net.ew(p + "layer_norm2", "layernorm", (r,), T * d, params=2 * d)
        h = net.linear(p + "mlp.fc1", n2, T, d, 4 * d)
        h = net.ew(p + "mlp.act", act, (h,), T * 4 * d)
        h = net.linear(p + "mlp.fc2", h, T, 4 * d, d)
        x = net.ew(p + "mlp_residual", "add", (r, h), T * d)
        if i == layers - 2:
            penultimate = x
    fin = net.ew(f"{stage}.final_layer_norm", "layernorm", (x,), T * d, params=2 * d)
    pooled = None
    if projection:
        fl, pa = _linear(1, d, projection, bias=False)
        pooled = net.add(f"{stage}.text_projection", "matmul", (fin,), fl, projection, params=pa)
    return penultimate, pooled


def sdxl_base_profile(
    *,
    height: int = 1024,
    width: int = 1024,
    steps: int = 30,
    guidance: bool = True,
    act_bytes: int = 2,
    vae_bytes: int = 4,
) -> pd.DataFrame:
    """Op-level profile of an SDXL base 1.0 request (Podell et al. 2023; diffusers config).

    Text encoders CLIP ViT-L/14 (12 layers, width 768, quick-GELU) and OpenCLIP ViT-bigG/14
    (32 layers, width 1280, GELU, pooled projection), penultimate hidden states concatenated
    to ``77 x 2048``. UNet: ``block_out_channels = (320, 640, 1280)``, two resnets per down
    block and three per up block, transformer depths 0 / 2 / 10 per level (10 in the mid
    block), linear projections, head dim 64, cross-attention dim 2048, ``text_time``
    additional embedding (pooled text 1280 + six 256-dim time ids = 2816). Scheduler: a
    guidance combine and an Euler step per step. VAE decoder: ``(512, 512, 256, 128)``
    channels from 128x128 to 1024x1024, mid-block attention.

    Parameters
    ----------
    height, width : int
        Image size (multiples of 8; the latent is ``height / 8 x width / 8``).
    steps : int
        Denoising steps (the ``repeat`` of UNet and scheduler rows).
    guidance : bool
        Classifier-free guidance: the UNet runs at batch 2.
    act_bytes, vae_bytes : int
        Bytes per activation element in the UNet / text encoders (fp16) and the VAE (fp32).

    Returns
    -------
    DataFrame
        Columns :data:`PROFILE_COLUMNS`.
    """
    if height != width or height % 64:
        raise ValueError(f"height = {height}, width = {width}: square multiples of 64 only")
    lat = height // 8
    b = _Builder()
    text1, _ = _clip_text(
        b, "text_encoder", layers=12, d=768, heads=12, act="quick_gelu", tokens=77, vocab=49408, act_bytes=act_bytes
    )
    text2, pooled = _clip_text(
        b,
        "text_encoder_2",
        layers=32,
        d=1280,
        heads=20,
        act="gelu",
        tokens=77,
        vocab=49408,
        act_bytes=act_bytes,
        projection=1280,
    )
    text = b.add("prompt_embeds", "concat", (text1, text2), 0, 77 * 2048, act_bytes, stage="text")
    assert pooled is not None

    B = 2 if guidance else 1
    u = _Net(b, "unet", act_bytes, batch=B, repeat=steps)
    # time and added (text_time) embeddings
    tp = u.add("unet.time_proj", "sinusoidal", (), 4 * 320, 320)
    t = u.linear("unet.time_embedding.linear_1", tp, 1, 320, 1280)
    t = u.ew("unet.time_embedding.act", "silu", (t,), B * 1280)
    t = u.linear("unet.time_embedding.linear_2", t, 1, 1280, 1280)
    ap = u.add("unet.add_time_proj", "sinusoidal", (), 4 * 6 * 256, 6 * 256)
    ae = u.add("unet.add_embeds", "concat", (pooled, ap), 0, B * 2816)
    a = u.linear("unet.add_embedding.linear_1", ae, 1, 2816, 1280)
    a = u.ew("unet.add_embedding.act", "silu", (a,), B * 1280)
    a = u.linear("unet.add_embedding.linear_2", a, 1, 1280, 1280)
    emb = u.ew("unet.emb", "add", (t, a), B * 1280)
    temb = u.ew("unet.emb_act", "silu", (emb,), B * 1280)  # resnets project silu(emb)

    # the latent enters from the previous step's scheduler output (public noise at step 0)
    x = u.conv("unet.conv_in", "scheduler.step@prev", 4, 320, 3, lat)
    skips: list[tuple[str, int, int]] = [(x, 320, lat)]
    chans = (320, 640, 1280)
    depth = (0, 2, 10)
    hw, c_prev = lat, 320
    for i, c in enumerate(chans):
        for j in range(2):
            x = u.resnet(f"unet.down_blocks.{i}.resnets.{j}.", x, c_prev, c, hw, temb)
            if depth[i]:
                x = u.transformer(f"unet.down_blocks.{i}.attentions.{j}.", x, c, hw, depth[i], text, 77, 2048)
            skips.append((x, c, hw))
            c_prev = c
        if i < len(chans) - 1:
            x = u.conv(f"unet.down_blocks.{i}.downsamplers.0.conv", x, c, c, 3, hw // 2)
            hw //= 2
            skips.append((x, c, hw))
    x = u.resnet("unet.mid_block.resnets.0.", x, 1280, 1280, hw, temb)
    x = u.transformer("unet.mid_block.attentions.0.", x, 1280, hw, 10, text, 77, 2048)
    x = u.resnet("unet.mid_block.resnets.1.", x, 1280, 1280, hw, temb)
    c_prev = 1280
    for i, c in enumerate(reversed(chans)):
        d_ = depth[len(chans) - 1 - i]
        for j in range(3):
            skip, cs, _ = skips.pop()
            cat = u.add(f"unet.up_blocks.{i}.concat.{j}", "concat", (x, skip), 0, B * (c_prev + cs) * hw * hw)
            x = u.resnet(f"unet.up_blocks.{i}.resnets.{j}.", cat, c_prev + cs, c, hw, temb)
            if d_:
                x = u.transformer(f"unet.up_blocks.{i}.attentions.{j}.", x, c, hw, d_, text, 77, 2048)
            c_prev = c
        if i < len(chans) - 1:
            hw *= 2
            x = u.add(f"unet.up_blocks.{i}.upsamplers.0.interpolate", "upsample_nearest", (x,), 0, B * c * hw * hw)
            x = u.conv(f"unet.up_blocks.{i}.upsamplers.0.conv", x, c, c, 3, hw)
    x = u.groupnorm("unet.conv_norm_out", x, 320, lat)
    x = u.ew("unet.conv_act", "silu", (x,), B * 320 * lat * lat)
    x = u.conv("unet.conv_out", x, 320, 4, 3, lat)

    s = _Net(b, "scheduler", act_bytes, batch=1, repeat=steps)
    n_lat = 4 * lat * lat
    g = s.ew("scheduler.cfg", "cfg", (x,), n_lat) if guidance else x
    s.ew("scheduler.step", "euler_step", (g, "scheduler.step@prev"), n_lat)

    v = _Net(b, "vae_decoder", vae_bytes, batch=1)
    z = v.ew("vae.scale_latents", "scale", ("scheduler.step",), n_lat)
    z = v.conv("vae.post_quant_conv", z, 4, 4, 1, lat)
    z = v.conv("vae.decoder.conv_in", z, 4, 512, 3, lat)
    z = v.resnet("vae.decoder.mid_block.resnets.0.", z, 512, 512, lat, None)
    gn = v.groupnorm("vae.decoder.mid_block.attentions.0.group_norm", z, 512, lat)
    at = v.attention("vae.decoder.mid_block.attentions.0.", gn, gn, lat * lat, lat * lat, 512, 512, 1, qkv_bias=True)
    z = v.ew("vae.decoder.mid_block.attentions.0.residual", "add", (z, at), 512 * lat * lat)
    z = v.resnet("vae.decoder.mid_block.resnets.1.", z, 512, 512, lat, None)
    hw, c_prev = lat, 512
    for i, c in enumerate((512, 512, 256, 128)):
        for j in range(3):
            z = v.resnet(f"vae.decoder.up_blocks.{i}.resnets.{j}.", z, c_prev, c, hw, None)
            c_prev = c
        if i < 3:
            hw *= 2
            z = v.add(f"vae.decoder.up_blocks.{i}.upsamplers.0.interpolate", "upsample_nearest", (z,), 0, c * hw * hw)
            z = v.conv(f"vae.decoder.up_blocks.{i}.upsamplers.0.conv", z, c, c, 3, hw)
    z = v.groupnorm("vae.decoder.conv_norm_out", z, 128, hw)
    z = v.ew("vae.decoder.conv_act", "silu", (z,), 128 * hw * hw)
    v.conv("vae.decoder.conv_out", z, 128, 3, 3, hw)
    return b.frame()


#: Generators of the shipped profiles, by file stem.
PROFILES: dict[str, Callable[[], pd.DataFrame]] = {
    "llama-2-7b": llama2_7b_profile,
    "sdxl-base-1.0": sdxl_base_profile,
}


def generate_profile(name: str) -> pd.DataFrame:
    """Generate the shipped profile ``name`` (a key of :data:`PROFILES`) with its defaults."""
    if name not in PROFILES:
        raise ValueError(f"profile = {name!r} is not one of {sorted(PROFILES)}")
    return PROFILES[name]()


def write_profiles(directory: str | Path = PROFILE_DIR) -> list[Path]:
    """Write every profile of :data:`PROFILES` to ``directory/<name>.csv``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in PROFILES:
        path = directory / f"{name}.csv"
        generate_profile(name).to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths


def load_profile(name: str | Path) -> pd.DataFrame:
    """Read a profile CSV: a name of :data:`PROFILES` (shipped file) or a path."""
    if isinstance(name, str) and name in PROFILES:
        path = PROFILE_DIR / f"{name}.csv"
    else:
        path = Path(name)
        if path.suffix != ".csv":
            raise ValueError(f"profile = {name!r} is not one of {sorted(PROFILES)} nor a .csv path")
    if not path.exists():
        raise FileNotFoundError(f"profile file {path} does not exist")
    frame = pd.read_csv(path, dtype={"inputs": str}, keep_default_na=False)
    missing = [c for c in PROFILE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"profile {path} lacks column(s) {missing}")
    return frame[list(PROFILE_COLUMNS)]


def graph_from_profile(frame: pd.DataFrame, name: str) -> DisputeGraph:
    """The dispute graph of a profile, with repeated rows unrolled (see the module readings).

    Rows with ``repeat = R > 1`` must be contiguous; they are emitted ``R`` times as
    ``step{s:02d}/<name>``. An input naming a repeated node reads the same repetition inside
    the loop and the last repetition after it; ``X@prev`` reads the previous repetition and
    is dropped in the first. Inputs that name no node are public (model inputs).
    """
    names = frame["name"].tolist()
    repeat = frame["repeat"].to_numpy(np.int64)
    if np.any(repeat < 1):
        raise ValueError("repeat must be >= 1")
    looped = np.flatnonzero(repeat > 1)
    R = int(repeat[looped[0]]) if looped.size else 1
    if looped.size and (np.any(np.diff(looped) != 1) or np.any(repeat[looped] != R)):
        raise ValueError("repeated rows must be contiguous and share one repeat count")
    lo, hi = (int(looped[0]), int(looped[-1]) + 1) if looped.size else (len(names), len(names))
    body = set(names[lo:hi])
    raw_inputs = [s.split(";") if s else [] for s in frame["inputs"].tolist()]
    out_names: list[str] = []
    ops: list[str] = []
    flops: list[float] = []
    out_bytes: list[int] = []
    edges: list[list[int]] = []
    index: dict[str, int] = {}
    ops_col = frame["op"].tolist()
    flops_col = frame["flops"].to_numpy(np.float64)
    bytes_col = frame["output_bytes"].to_numpy(np.int64)

    def emit(row: int, label: str, resolve: Callable[[str], int | None]) -> None:
        ins = sorted({j for j in (resolve(x) for x in raw_inputs[row]) if j is not None})
        index[label] = len(out_names)
        out_names.append(label)
        ops.append(ops_col[row])
        flops.append(flops_col[row])
        out_bytes.append(int(bytes_col[row]))
        edges.append(ins)

    def outside(x: str) -> int | None:
        if x.endswith("@prev"):
            raise ValueError(f"input {x!r} outside the repeated rows")
        if x in body:
            return index[f"step{R - 1:02d}/{x}"]
        return index.get(x)

    for row in range(lo):
        emit(row, names[row], outside)
    for s in range(R):

        def inside(x: str, s: int = s) -> int | None:
            if x.endswith("@prev"):
                base = x[: -len("@prev")]
                if base not in body:
                    raise ValueError(f"input {x!r}: {base!r} is not a repeated row")
                return index[f"step{s - 1:02d}/{base}"] if s > 0 else None
            if x in body:
                return index[f"step{s:02d}/{x}"]
            return index.get(x)

        for row in range(lo, hi):
            emit(row, f"step{s:02d}/{names[row]}" if R > 1 else names[row], inside)
    for row in range(hi, len(names)):
        emit(row, names[row], outside)
    return graph_from_edges(name, out_names, ops, edges, flops, out_bytes)


def profile_graph(name: str) -> DisputeGraph:
    """The unrolled dispute graph of shipped profile ``name``."""
    return graph_from_profile(load_profile(name), name)
