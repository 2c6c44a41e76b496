"""The five knowledge-distillation losses and their weighted combinations.

These are this project's formulations of the five methods named in the study
(arXiv 2510.26271); docs/methods.md gives the formulas and the reasons for each
choice. Style follows open_clip's ``loss.py``: one small ``nn.Module`` per loss,
all called the same way, ``loss(batch) -> {name: scalar}``.

Conventions shared by every loss:

* all embeddings are L2-normalised (the model interface promises it);
* teacher tensors (``teacher_text``, ``teacher_english``, ``image``) are
  detached: gradients flow into the student only;
* everything is computed in float32, whatever the autocast dtype;
* "MSE" between unit vectors is the squared Euclidean distance, **summed over
  the embedding dimension and averaged over the batch**: ``||s - t||^2 = 2 - 2 cos``
  lies in [0, 4] whatever D is, so it is of the same order as the KL and
  cross-entropy terms it is combined with (a per-element mean would be D times
  smaller and vanish in any sum);
* the distributional losses (SD, DR) are written as divergences, zero when the
  student reproduces the teacher exactly; cross-entropies with soft targets are
  reported minus the teacher's entropy, which changes the value but not the
  gradient.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvlm_distill.definitions import FAMILIES

# the temperatures a loss built without them uses; the study passes the config's (distillation.temperatures)
SD_TEACHER_TEMPERATURE = 0.05  # Copied from workflow/schemas/config.schema.yaml: distillation.temperatures.sd_teacher_temperature
MCL_TEMPERATURE = 0.05  # Copied from workflow/schemas/config.schema.yaml: distillation.temperatures.mcl_temperature


@dataclass
class DistillBatch:
    """One distillation batch; row ``i`` of every text tensor is the same caption.

    ``student_text`` is S(x) for the caption x in its language, ``teacher_text``
    is T(x) (cached), ``teacher_english`` is T(e) for the parallel English
    caption e, ``image`` holds the frozen image embeddings V(I) of the batch's
    images (row ``i`` is the image of caption ``i``; DR only uses them as the
    in-batch image set). ``student_english`` is S(e), computed only when a loss
    needs it (``WeightedLoss.needs_student_english``).
    """

    student_text: Tensor
    teacher_text: Tensor
    teacher_english: Tensor
    image: Tensor
    logit_scale: float
    logit_bias: float | None
    family: str
    student_english: Tensor | None = None


def _f32(x: Tensor) -> Tensor:
    return x.float()


def _teacher(x: Tensor) -> Tensor:
    return x.detach().float()


def squared_distance(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean over the batch of ``||student - teacher||^2`` (sum over the dimension)."""
    if student.shape != teacher.shape:
        raise ValueError(f"shape mismatch: student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")
    return (student - teacher).pow(2).sum(dim=-1).mean()


def _kl_rows(teacher_logits: Tensor, student_logits: Tensor, dim: int = -1) -> Tensor:
    """KL(softmax(teacher) || softmax(student)) along ``dim``, averaged over the other axis.

    Entries equal to ``-inf`` in both (masked) contribute nothing.
    """
    log_p = F.log_softmax(teacher_logits, dim=dim)
    log_q = F.log_softmax(student_logits, dim=dim)
    p = log_p.exp()
    terms = p * (log_p - log_q)
    terms = torch.where(p > 0, terms, torch.zeros_like(terms))  # 0 * log 0 = 0, masked entries
    return terms.sum(dim=dim).mean()


class KDLoss(nn.Module):
    """Base class: ``forward(batch) -> {self.name: scalar tensor}``."""

    name: str = ""
    needs_student_english: bool = False

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class FeatureDistillation(KDLoss):
    """FD: MSE(S(x), T(x)) in every language, English included."""

    name = "FD"

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        return {self.name: squared_distance(_f32(batch.student_text), _teacher(batch.teacher_text))}


class EnglishDistillation(KDLoss):
    """ED: MSE(S(x), T(e)) + MSE(S(e), T(e)) (the multilingual-KD objective of Reimers & Gurevych)."""

    name = "ED"
    needs_student_english = True

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        if batch.student_english is None:
            raise ValueError("ED needs batch.student_english = S(e), the student's English embeddings")
        target = _teacher(batch.teacher_english)
        loss = squared_distance(_f32(batch.student_text), target) + squared_distance(
            _f32(batch.student_english), target
        )
        return {self.name: loss}


class SimilarityDistillation(KDLoss):
    """SD: KL(teacher || student) between in-batch text-text similarity distributions.

    Row ``i``: softmax_j(T(x_i).T(x_j) / tau_T) vs softmax_j(S(x_i).S(x_j) / tau_S),
    j over the *other* captions of the batch. The diagonal is dropped: a unit
    vector's similarity to itself is always 1, so it carries no information and,
    at these temperatures, would hold most of the probability mass and wash out
    the relational signal. Needs a batch of at least 2 (otherwise 0).

    By default tau_S = tau_T, so the loss and its gradient are 0 at S = T. A
    different ``student_temperature`` is the asymmetric variant: its optimum is a
    student whose similarity gaps are tau_S / tau_T times the teacher's, not the
    teacher (docs/methods.md).
    """

    name = "SD"

    def __init__(self, teacher_temperature: float = SD_TEACHER_TEMPERATURE, student_temperature: float | None = None):
        super().__init__()
        if student_temperature is None:
            student_temperature = teacher_temperature
        _check_temperature("sd_teacher_temperature", teacher_temperature)
        _check_temperature("sd_student_temperature", student_temperature)
        self.teacher_temperature = float(teacher_temperature)
        self.student_temperature = float(student_temperature)

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        s = _f32(batch.student_text)
        t = _teacher(batch.teacher_text)
        n = s.shape[0]
        if n < 2:
            return {self.name: s.sum() * 0.0}
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=s.device)
        neg_inf = torch.finfo(torch.float32).min
        t_logits = (t @ t.T / self.teacher_temperature).masked_fill(~off_diagonal, neg_inf)
        s_logits = (s @ s.T / self.student_temperature).masked_fill(~off_diagonal, neg_inf)
        return {self.name: _kl_rows(t_logits, s_logits, dim=1)}


class MultilingualContrastive(KDLoss):
    """MCL: symmetric InfoNCE between S(x) and T(e) with in-batch negatives.

    logits = S(x) T(e)^T / tau; cross-entropy over rows (caption -> English
    targets, positive on the diagonal) and over columns (English target ->
    captions), averaged. Translations of one caption in several languages may
    share a batch: their English targets are the same cached vector, so the
    "negative" copy has exactly the logit of the positive, and the loss equals
    the multi-positive InfoNCE that treats all copies as positives (no masking
    needed).
    """

    name = "MCL"

    def __init__(self, temperature: float = MCL_TEMPERATURE):
        super().__init__()
        _check_temperature("mcl_temperature", temperature)
        self.temperature = float(temperature)

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        s = _f32(batch.student_text)
        e = _teacher(batch.teacher_english)
        if s.shape != e.shape:
            raise ValueError(f"shape mismatch: student {tuple(s.shape)} vs teacher_english {tuple(e.shape)}")
        logits = s @ e.T / self.temperature
        target = torch.arange(len(s), device=s.device)
        loss_rows = F.cross_entropy(logits, target)
        loss_cols = F.cross_entropy(logits.T, target)
        return {self.name: 0.5 * (loss_rows + loss_cols)}


class DistributionalReplication(KDLoss):
    """DR: the student reproduces the teacher's text-image distribution over the batch's images.

    CLIP: logits = scale * text V(I)^T with the teacher's scale; KL(teacher ||
    student) of the row softmax (text -> image) and of the column softmax
    (image -> text), averaged.
    SigLIP: per-pair probabilities sigmoid(scale * text.V(I) + bias) with the
    teacher's scale and bias; binary cross-entropy of the student's logits
    against the teacher's probabilities as soft targets, minus the teacher's
    own binary entropy (= Bernoulli KL, same gradient as BCE), averaged over
    all text-image pairs of the batch. (SigLIP's own loss sums over a row's
    images; that sum grows with the batch and would change DR's weight against
    the other terms of a combination with the batch size.)
    """

    name = "DR"

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        s = _f32(batch.student_text)
        t = _teacher(batch.teacher_text)
        v = _teacher(batch.image)
        scale = float(batch.logit_scale)
        t_logits = scale * (t @ v.T)
        s_logits = scale * (s @ v.T)
        if batch.family == "clip":
            loss = 0.5 * (_kl_rows(t_logits, s_logits, dim=1) + _kl_rows(t_logits, s_logits, dim=0))
        elif batch.family == "siglip2":
            if batch.logit_bias is None:
                raise ValueError("DR for the siglip2 family needs batch.logit_bias (the teacher's bias)")
            bias = float(batch.logit_bias)
            t_logits = t_logits + bias
            s_logits = s_logits + bias
            target = torch.sigmoid(t_logits)
            bce = F.binary_cross_entropy_with_logits(s_logits, target, reduction="none")
            entropy = F.binary_cross_entropy_with_logits(t_logits, target, reduction="none")
            loss = (bce - entropy).mean()
        else:
            raise ValueError(f"unknown model family {batch.family!r}; expected one of {FAMILIES}")
        return {self.name: loss}


LOSSES: dict[str, type[KDLoss]] = {
    "FD": FeatureDistillation,
    "ED": EnglishDistillation,
    "SD": SimilarityDistillation,
    "MCL": MultilingualContrastive,
    "DR": DistributionalReplication,
}


class WeightedLoss(nn.Module):
    """A weighted sum of KD losses: ``forward(batch) -> {"FD": ..., ..., "total": sum w * term}``.

    The per-loss entries are the unweighted terms (what ``loss_log.csv`` records);
    ``total`` is the weighted sum that is back-propagated.
    """

    def __init__(self, losses: Mapping[str, KDLoss], weights: Mapping[str, float], family: str | None = None):
        super().__init__()
        if set(losses) != set(weights):
            raise ValueError("losses and weights must name the same terms")
        self.losses = nn.ModuleDict(dict(losses))
        self.weights = {name: float(w) for name, w in weights.items()}
        self.family = family

    @property
    def needs_student_english(self) -> bool:
        return any(loss.needs_student_english for loss in self.losses.values())

    @property
    def names(self) -> list[str]:
        return list(self.losses)

    def forward(self, batch: DistillBatch) -> dict[str, Tensor]:
        if batch.family not in FAMILIES:
            raise ValueError(f"unknown model family {batch.family!r}; expected one of {FAMILIES}")
        if self.family is not None and batch.family != self.family:
            raise ValueError(f"loss built for family {self.family!r} got a {batch.family!r} batch")
        out: dict[str, Tensor] = {}
        total = None
        for name, loss in self.losses.items():
            term = loss(batch)[name]
            out[name] = term
            weighted = self.weights[name] * term
            total = weighted if total is None else total + weighted
        out["total"] = total
        return out

    def extra_repr(self) -> str:
        return " + ".join(f"{w:g}*{n}" for n, w in self.weights.items())


_TERM = re.compile(r"^\s*(?:(?P<w>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?(?P<name>[A-Za-z]+)\s*$")


def parse_weights(spec: str | Mapping[str, float]) -> dict[str, float]:
    """``"DR+ED"`` -> ``{"DR": 1.0, "ED": 1.0}``; ``"0.5*SD+FD"`` -> ``{"SD": 0.5, "FD": 1.0}``.

    A mapping is returned as a dict of floats (no validation; see ``build_loss``).
    """
    if isinstance(spec, Mapping):
        return {str(k): float(v) for k, v in spec.items()}
    weights: dict[str, float] = {}
    for part in str(spec).split("+"):
        m = _TERM.match(part)
        if not m:
            raise ValueError(f"cannot parse loss term {part!r} in {spec!r} (expected e.g. 'DR+ED' or '0.5*SD+FD')")
        name = m.group("name")
        if name in weights:
            raise ValueError(f"loss {name!r} appears twice in {spec!r}")
        weights[name] = float(m.group("w")) if m.group("w") else 1.0
    return weights


def _check_temperature(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def build_loss(
    weights: str | Mapping[str, float],
    family: str | None = None,
    *,
    sd_teacher_temperature: float = SD_TEACHER_TEMPERATURE,
    sd_student_temperature: float | None = None,
    mcl_temperature: float = MCL_TEMPERATURE,
) -> WeightedLoss:
    """Build the weighted combination of the named losses.

    ``weights``: ``{"DR": 1, "ED": 1}`` or the string ``"DR+ED"``. Terms with weight 0
    are dropped. ``family`` (optional) pins the model family the loss accepts.
    Raises ``ValueError`` for an unknown loss name, a negative or non-finite
    weight, all-zero/empty weights, an unknown family or a non-positive temperature.
    ``sd_student_temperature`` None (the default) means SD's student temperature equals
    its teacher temperature, so SD is minimal at S = T.
    """
    parsed = parse_weights(weights)
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")
    unknown = [name for name in parsed if name not in LOSSES]
    if unknown:
        raise ValueError(f"unknown loss {', '.join(map(repr, unknown))}; known losses: {', '.join(LOSSES)}")
    for name, w in parsed.items():
        if not math.isfinite(w):
            raise ValueError(f"weight of loss {name!r} must be finite, got {w!r}")
        if w < 0:
            raise ValueError(f"weight of loss {name!r} must be non-negative, got {w!r}")
    active = {name: w for name, w in parsed.items() if w > 0}
    if not active:
        raise ValueError(f"all loss weights are zero (or none given): {parsed!r}")
    factories = {
        "FD": lambda: FeatureDistillation(),
        "ED": lambda: EnglishDistillation(),
        "SD": lambda: SimilarityDistillation(sd_teacher_temperature, sd_student_temperature),
        "MCL": lambda: MultilingualContrastive(mcl_temperature),
        "DR": lambda: DistributionalReplication(),
    }
    # temperatures are validated even when the loss that uses them is not active
    _check_temperature("sd_teacher_temperature", sd_teacher_temperature)
    if sd_student_temperature is not None:
        _check_temperature("sd_student_temperature", sd_student_temperature)
    _check_temperature("mcl_temperature", mcl_temperature)
    losses = {name: factories[name]() for name in active}
    return WeightedLoss(losses, active, family=family)


__all__ = [
    "DistillBatch",
    "KDLoss",
    "FeatureDistillation",
    "EnglishDistillation",
    "SimilarityDistillation",
    "MultilingualContrastive",
    "DistributionalReplication",
    "WeightedLoss",
    "LOSSES",
    "FAMILIES",
    "build_loss",
    "parse_weights",
    "squared_distance",
]
