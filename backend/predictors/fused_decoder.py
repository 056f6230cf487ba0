"""The cross-mixer point decoder with its linear maps folded together: the same SDF, less work.

``Slice3DCompact.query`` spends most of its time per point on the 12 slice tokens: each is
``W2 gelu(W1 s + b1) + b2 + e_t`` and feeds the attention only through linear maps (the keys,
after ``attend_one_query``'s fold, and the values). So ``W2`` folds into the key and value
projections of every layer, and the constant part ``b2 + e_t`` becomes 12 more columns: with the
token's hidden state ``g_t`` extended by a one-hot ``u_t`` (``[g_t, u_t]``, 76 wide), the scores
are ``[q W_k W2 | q W_k C^T] . [g_t, u_t]`` and the values ``[W_v W2 | W_v C^T]`` times the
weighted sum of ``[g_t, u_t]`` (``C`` stacks ``b2 + e_t``). The [points, 12, 64] x 64 x 64
product and the add of the embedding are gone, for two products 76 wide instead of 64. The layer
norms' scale and shift fold into the linear map after them.

Several photos (issue 35's view fusion) change only the coordinate token: the extra views'
term (``Slice3DCompact.fused_views``, computed by the model as it is) is added to it before the
layers, exactly where ``decode_points`` adds it, so the folded layers serve several photos too.

Equal to ``query`` in exact arithmetic; in float32 the order of the sums differs, so values agree
to about 1e-6 (tests/backend/predictors/test_fused_decoder.py). Only the cross mixer with slices
is folded (``supports``); everything else stays on ``Slice3DCompact.query``.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..model.colour_head import object_colour
from ..model.network import Slice3DCompact
from ..model.view_fusion import ExtraViews
from .map_sampling import MapSampler


def supports(model: Slice3DCompact) -> bool:
    """Whether ``FusedDecoder`` reproduces this network's ``query`` (cross mixer, slices)."""
    return model.config.mixer == "cross" and model.slice_head is not None


def _linear(module: object) -> tuple[torch.Tensor, torch.Tensor]:
    """A Linear layer's weight and bias."""
    linear = cast(nn.Linear, module)
    return linear.weight, linear.bias


def _folded_norm(norm: object, linear: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``linear(norm(x))`` as ``W layer_norm(x) + b`` without the norm's scale and shift."""
    (w, b), layer_norm = _linear(linear), cast(nn.LayerNorm, norm)
    return ((w.double() * layer_norm.weight.double()).float(),
            (w.double() @ layer_norm.bias.double() + b.double()).float())


def _softmax_last(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension (the 12 tokens).

    On a CPU torch's own kernel takes about 5x as long as these four ops for a last dimension
    this short (1.7 ms against 0.3 ms for [2048, 4, 12], one thread; docs/BENCHMARKS.md); the
    values agree to about 3e-7. Elsewhere the one fused kernel is faster."""
    if x.device.type != "cpu":
        return x.softmax(-1)
    e = (x - x.amax(-1, keepdim=True)).exp_()
    return e.div_(e.sum(-1, keepdim=True))


def _gelu_in_place(x: torch.Tensor) -> torch.Tensor:
    """GELU written over its input (the exact, erf form ``F.gelu`` uses: the same values).

    The slice tokens are the decoder's largest tensor (6 MB for a 2048-point chunk), and on a
    CPU the ops that touch them wait on memory, not arithmetic: a fresh output buffer per chunk
    cost 3-6% of the SDF's time (docs/BENCHMARKS.md, "The allocator's thresholds")."""
    return torch.ops.aten.gelu_(x)


class _Layer:
    """One ``_CrossLayer`` with W2 and the token constants in its key and value maps."""

    def __init__(self, layer: nn.Module, kv: nn.Module, w2: torch.Tensor, consts: torch.Tensor,
                 heads: int) -> None:
        d = w2.shape[0]
        dh = d // heads
        self.heads, self.eps = heads, cast(nn.LayerNorm, layer.norm_q).eps
        self.q_w, self.q_b = _folded_norm(layer.norm_q, layer.q)
        kv_w, kv_b = _linear(kv)
        w_k, w_v = kv_w.double().view(2, heads, dh, d).unbind(0)  # [h,dh,d] each
        self.key = (w_k @ w2 / math.sqrt(dh)).float()  # [h,dh,d]
        self.key_const = (w_k @ consts.T / math.sqrt(dh)).float()  # [h,dh,T]
        self.value = (w_v @ w2).float()  # [h,dh,d]
        self.value_const = (w_v @ consts.T).transpose(1, 2).float()  # [h,T,dh]
        self.v_b = kv_b.view(2, heads, dh)[1].float()
        self.o_w, self.o_b = _linear(layer.o)
        ff = cast(nn.Sequential, layer.ff)
        self.f1_w, self.f1_b = _folded_norm(layer.norm_f, ff[0])
        self.f2_w, self.f2_b = _linear(ff[2])
        self.ff_eps = cast(nn.LayerNorm, layer.norm_f).eps

    def __call__(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """x [M,d]; tokens [M,T,d], the slice tokens' hidden states (before W2)."""
        m, d = x.shape
        q = F.linear(F.layer_norm(x, (d,), eps=self.eps), self.q_w, self.q_b)
        q = q.view(m, self.heads, -1)
        scores = torch.einsum("mhe,het->mht", q, self.key_const)  # the tokens' constant part
        q_tok = torch.einsum("mhe,hed->mhd", q, self.key)
        weights = _softmax_last(torch.baddbmm(scores, q_tok, tokens.transpose(1, 2)))  # [M,h,T]
        mixed = torch.bmm(weights, tokens)  # [M,h,d]
        a = (torch.einsum("mhd,hed->mhe", mixed, self.value)
             + torch.einsum("mht,hte->mhe", weights, self.value_const) + self.v_b)
        x = x + F.linear(a.reshape(m, d), self.o_w, self.o_b)
        hidden = _gelu_in_place(
            F.linear(F.layer_norm(x, (d,), eps=self.ff_eps), self.f1_w, self.f1_b))
        return x + F.linear(hidden, self.f2_w, self.f2_b)


class FusedDecoder:
    """``model.query`` for the cross mixer, with or without extra views, folded as above.

    Built once per loaded network (the folds are a few small matrix products); holds copies of
    the weights, so it does not follow later changes to the model's parameters."""

    @torch.no_grad()
    def __init__(self, model: Slice3DCompact) -> None:
        if not supports(model):
            raise ValueError("FusedDecoder folds the cross mixer with slices only")
        self.model = model
        cfg = model.config
        tok = cast(nn.Sequential, model.slice_tok)
        self.t1_w, self.t1_b = _linear(tok[0])
        w2, b2 = _linear(tok[2])
        w2, consts = w2.double(), b2.double() + model.slice_emb.double()  # consts [T,d]
        self.layers = [_Layer(layer, model.kv, w2, consts, cfg.heads)
                       for layer in cast(nn.ModuleList, model.mixer)]
        self.out_w, self.out_b = _folded_norm(model.out_norm, model.sdf_head)
        self.out_eps = model.out_norm.eps
        self.sample = MapSampler()

    @torch.no_grad()
    def query(self, feats: dict[str, torch.Tensor], points: torch.Tensor,
              sampling: str = "bilinear", views: ExtraViews | None = None) -> torch.Tensor:
        """SDF at view-frame points [B,N,3] -> [B,N], as ``Slice3DCompact.query``; ``views``:
        extra photos of the same objects, read by the network's view fusion."""
        b, n, _ = points.shape
        tok_in, cin, _, _ = self.model.point_inputs(feats, points, None, sampling, self.sample)
        x = self._mixed(tok_in, cin, points, sampling, views)
        x = F.layer_norm(x, (x.shape[-1],), eps=self.out_eps)
        return F.linear(x, self.out_w, self.out_b).view(b, n)

    @torch.no_grad()
    def query_colour(self, feats: dict[str, torch.Tensor], points: torch.Tensor,
                     sampling: str = "bilinear") -> torch.Tensor:
        """sRGB colour at view-frame points [B,N,3] -> [B,N,3], as
        ``Slice3DCompact.query_colour``: the colour head reads the same folded layers' output."""
        tok_in, cin, img, rel = self.model.point_inputs(feats, points, None, sampling,
                                                        self.sample)
        hidden = self.model.out_norm(self._mixed(tok_in, cin, points, sampling, None))
        return self.model.colour_from(hidden, img, rel, object_colour(feats["image"].float()))

    def _mixed(self, tok_in: torch.Tensor, cin: torch.Tensor, points: torch.Tensor,
               sampling: str, views: ExtraViews | None) -> torch.Tensor:
        """The coordinate token after the folded layers [M,d], before the output norm."""
        m = points.shape[0] * points.shape[1]
        tokens = _gelu_in_place(F.linear(tok_in, self.t1_w, self.t1_b))
        x = self.model.coordinate_token(cin.reshape(m, -1))  # [M,d]
        if views is not None:  # the extra views' term, where decode_points adds it
            term = self.model.fused_views(views, points, sampling, x.view(m, 1, -1))
            x = x + term.view(m, -1).to(x.dtype)
        for layer in self.layers:
            x = layer(x, tokens)
        return x
