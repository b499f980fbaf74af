"""Loss functions shared by the clustering methods, as pure torch functions (no module state).

This module owns the "Shared building blocks" of docs/methods.md (section 6):

- `instance_contrastive_loss`: NT-Xent between two views' vectors, (B, d) each.
- `cluster_contrastive_loss`: CC's cluster loss, NT-Xent between the two views' assignment
  *columns* plus a balance term per view, on soft assignments (B, K).
- `cross_correlation_loss`: between-cluster redundancy (Barlow-Twins style) on (B, K) outputs.
- `entropy_balance`: log K - H(mean assignment), the anti-collapse term.
- `self_organizing_loss`, `sinkhorn_targets`, `soch_loss_parts`: S3OCNet's self-labelling
  loss (hard one-hot target vs soft assignment) and its anti-collapse choices (docs/methods.md,
  sections 3 and 6.4).
- `scan_loss_parts`, `confident_targets`, `self_labelling_loss`: SCAN's neighbour consistency
  (a sample and its mined neighbour agree, the batch stays spread) and its self-labelling step
  (confident predictions become class-balanced pseudo-labels), usable by every method.

Each loss with several terms has a `..._parts` twin returning a dict of scalar tensors that sum
to the total, so a trainer can log the terms apart.

Conventions shared by every function here:

- Inputs must be floating-point (B, d) or (B, K) tensors on one device, with B >= 2.
- Precision: float16 and bfloat16 inputs are cast up and the loss is computed (and returned) in
  float32, with autocast disabled inside, so mixed-precision training gets a float32 loss;
  float32 and float64 inputs are computed in their own precision. Gradients flow back to the
  inputs in their own dtype.
- Validation: shapes, dtypes and devices are always checked (free: no device sync). Checking that
  values are finite needs a device-to-host sync, so it is off by default (`check_finite=False`);
  pass `check_finite=True` to get a `DataError` naming the argument instead of a NaN loss.
  Soft assignments are assumed to be non-negative with rows summing to 1; that is not checked.
- Bad hyper-parameters (temperature <= 0, negative weights) raise `DataError` naming them.
"""

from __future__ import annotations

import math
import warnings
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F

from explore.errors import DataError

__all__ = [
    "ANTI_COLLAPSE_CHOICES",
    "LOSS_TERMS",
    "describe_loss_term",
    "cluster_contrastive_loss",
    "cluster_contrastive_loss_parts",
    "confident_targets",
    "cross_correlation_loss",
    "cross_correlation_loss_parts",
    "entropy_balance",
    "instance_contrastive_loss",
    "parse_anti_collapse",
    "scan_loss_parts",
    "self_labelling_loss",
    "self_organizing_loss",
    "self_organizing_loss_parts",
    "sinkhorn_targets",
    "soch_loss_parts",
]

LOSS_TERMS: dict[str, str] = {
    "loss": "The total the optimiser minimises: the sum of the terms beside it.",
    "instance": "Instance contrast: each item's two views are pulled together and pushed away "
    "from every other item's views (NT-Xent).",
    "cluster": "Cluster contrast: each cluster's column of assignments in one view is pulled "
    "towards the same cluster's column in the other view and away from the other clusters'.",
    "balance": "Balance: the mean assignment over the batch is kept spread over the clusters, "
    "so that no cluster takes everything (collapse).",
    "on_diagonal": "Agreement: each cluster output of one view correlates with the same output "
    "of the other view (the diagonal of the cross-correlation pulled to 1).",
    "off_diagonal": "Redundancy: different cluster outputs stay uncorrelated across the views "
    "(the off-diagonal of the cross-correlation pushed to 0), so clusters differ.",
    "self_label": "Self-labelling: each view's soft assignment is pulled towards the other "
    "view's hard (balanced) cluster choice.",
    "consistency": "Neighbour consistency: an item and one of its nearest neighbours in feature "
    "space get the same assignment.",
    "entropy": "Spread: minus the entropy of the mean assignment, so the batch uses every cluster.",
}
"""One or two sentences on each loss term a method logs (the keys of its `training_loss`), written
once here for the dashboard, the notebooks and the docs."""


def describe_loss_term(name: str) -> str:
    """What the logged loss term `name` does (`LOSS_TERMS`); per-layer terms of S3OCNet
    ("layer1_loss") and unknown names get a plain fallback."""
    if name in LOSS_TERMS:
        return LOSS_TERMS[name]
    if name.startswith("layer") and name.endswith("_loss"):
        return f"The loss of self-organizing head {name[5:-5]} (logged apart, part of the total)."
    return f"A loss term logged as {name!r}."


# Lower bound on the mean assignment P_k before its log: keeps 0 * log 0 at 0 and its gradient
# finite when a cluster is empty.
_PROBABILITY_FLOOR = 1e-12
# A zero vector stays zero when L2-normalised (its similarities are then 0).
_NORM_FLOOR = 1e-12


# ----------------------------------------------------------------------------- validation


def _check_pair(
    first: torch.Tensor,
    second: torch.Tensor,
    names: tuple[str, str],
    axes: str,
    *,
    check_finite: bool,
) -> None:
    """Check two (B, ·) inputs: tensors, floating, 2-D, same shape and device, B >= 2."""
    for tensor, name in zip((first, second), names, strict=True):
        _check_one(tensor, name, axes, check_finite=check_finite)
    if first.shape != second.shape:
        raise DataError(
            f"{names[0]} and {names[1]} must have the same shape {axes}; got "
            f"{tuple(first.shape)} and {tuple(second.shape)}"
        )
    if first.device != second.device:
        raise DataError(
            f"{names[0]} and {names[1]} must be on the same device; got {first.device} and "
            f"{second.device}"
        )


def _check_one(tensor: torch.Tensor, name: str, axes: str, *, check_finite: bool) -> None:
    """Check one (B, ·) input: a floating-point 2-D tensor with B >= 2 and a non-empty axis 1."""
    if not isinstance(tensor, torch.Tensor):
        raise DataError(f"{name} must be a torch.Tensor {axes}; got {type(tensor).__name__}")
    if not torch.is_floating_point(tensor):
        raise DataError(f"{name} must be floating-point; got dtype {tensor.dtype}")
    if tensor.ndim != 2:
        raise DataError(f"{name} must be 2-D {axes}; got shape {tuple(tensor.shape)}")
    if tensor.shape[0] < 2:
        raise DataError(
            f"{name} needs a batch of at least 2 samples; got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[1] < 1:
        raise DataError(f"{name} has an empty second axis: shape {tuple(tensor.shape)}")
    if check_finite:
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            count = int((~finite).sum())
            raise DataError(
                f"{name} holds {count} non-finite values (NaN or Inf) in shape "
                f"{tuple(tensor.shape)}"
            )


def _check_temperature(temperature: float) -> None:
    if not (temperature > 0 and math.isfinite(temperature)):
        raise DataError(f"temperature must be a finite number > 0; got {temperature!r}")


# ----------------------------------------------------------------------------- precision


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float32 for half inputs, else the inputs' common floating dtype (float32 or float64)."""
    dtype = tensors[0].dtype
    for tensor in tensors[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return torch.promote_types(dtype, torch.float32)


def _without_autocast(device: torch.device) -> AbstractContextManager:
    """Disable autocast on `device` so matmuls run in the compute dtype, not in half."""
    is_available = getattr(torch.amp, "is_autocast_available", None)
    supported = is_available(device.type) if is_available else device.type in ("cpu", "cuda")
    if not supported:
        return nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)


# ----------------------------------------------------------------------------- shared pieces


def _nt_xent(rows_a: torch.Tensor, rows_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent over 2N stacked unit rows; row i of `rows_a` is the positive of row i of `rows_b`.

    rows_a, rows_b: (N, D), already L2-normalised. Logits s_ij = r_i . r_j / temperature; the
    diagonal (each row with itself) is set to -inf so it leaves the softmax; cross-entropy towards
    the other view's row gives -log(exp(s_pos) / sum_{k != i} exp(s_ik)), averaged over 2N rows.
    """
    count = rows_a.shape[0]
    rows = torch.cat([rows_a, rows_b], dim=0)
    logits = rows @ rows.T / temperature
    self_pairs = torch.eye(2 * count, dtype=torch.bool, device=rows.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    # Row i's positive is row (i + N) mod 2N.
    targets = torch.arange(2 * count, device=rows.device).roll(count)
    return F.cross_entropy(logits, targets)


def _entropy_balance(assignments: torch.Tensor) -> torch.Tensor:
    """log K - H(P), P_k = mean_i p_ik; `assignments` (B, K) already in the compute dtype."""
    mean_assignment = assignments.mean(dim=0)
    entropy = -(mean_assignment * mean_assignment.clamp_min(_PROBABILITY_FLOOR).log()).sum()
    return math.log(assignments.shape[1]) - entropy


def _standardise(outputs: torch.Tensor, eps: float) -> torch.Tensor:
    """(y - mean) / sqrt(biased variance + eps), per column over the batch; (B, K) -> (B, K)."""
    centred = outputs - outputs.mean(dim=0, keepdim=True)
    variance = centred.pow(2).mean(dim=0, keepdim=True)
    return centred / torch.sqrt(variance + eps)


# ----------------------------------------------------------------------------- public losses


def instance_contrastive_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.5,
    *,
    check_finite: bool = False,
) -> torch.Tensor:
    """NT-Xent between two views' vectors: pull each sample's two views together.

    z_a, z_b: (B, d), row i of both is sample i seen through two augmentations. Rows are
    L2-normalised here (so callers may pass raw projections; normalising twice changes nothing),
    stacked into 2B rows, and compared by s_ij = z_i . z_j / temperature. Each row's positive is
    the same sample's other view; the denominator runs over the other 2B - 1 rows (itself
    excluded). Returns the mean over the 2B rows of -log(exp(s_pos) / sum_{k != i} exp(s_ik)),
    a scalar (float32 for half inputs). Symmetric in z_a and z_b.
    """
    _check_pair(z_a, z_b, ("z_a", "z_b"), "(B, d)", check_finite=check_finite)
    _check_temperature(temperature)
    dtype = _compute_dtype(z_a, z_b)
    with _without_autocast(z_a.device):
        rows_a = F.normalize(z_a.to(dtype), dim=1, eps=_NORM_FLOOR)
        rows_b = F.normalize(z_b.to(dtype), dim=1, eps=_NORM_FLOOR)
        return _nt_xent(rows_a, rows_b, temperature)


def entropy_balance(p: torch.Tensor, *, check_finite: bool = False) -> torch.Tensor:
    """Balance term log K - H(P), with P_k = mean_i p_ik the share of cluster k in the batch.

    p: (B, K) soft assignments (rows sum to 1). The value is 0 when every cluster gets the same
    share and log K when all samples fall in one cluster: minimising it fights collapse (the
    log K only keeps it non-negative). P is floored at 1e-12 inside the log, so empty clusters
    give neither NaN values nor NaN gradients. Returns a scalar (float32 for half inputs).
    """
    _check_one(p, "p", "(B, K)", check_finite=check_finite)
    dtype = _compute_dtype(p)
    with _without_autocast(p.device):
        return _entropy_balance(p.to(dtype))


def cluster_contrastive_loss_parts(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    temperature: float = 1.0,
    *,
    balance: bool = True,
    check_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """CC's cluster loss split into its terms: {"contrast": ..., "balance": ...}.

    The parts sum to `cluster_contrastive_loss`; "balance" is a zero tensor when `balance` is
    False, so logs keep the same keys. See `cluster_contrastive_loss` for the definition.
    """
    return _cluster_contrastive_parts(
        p_a, p_b, temperature, balance=balance, check_finite=check_finite, stacklevel=3
    )


def cluster_contrastive_loss(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    temperature: float = 1.0,
    *,
    balance: bool = True,
    check_finite: bool = False,
) -> torch.Tensor:
    """CC cluster loss: make each cluster's column agree across views and differ from the others.

    p_a, p_b: (B, K) soft assignments of the same B samples under two views (rows sum to 1).
    Column k (length B, L2-normalised) represents cluster k; NT-Xent over the 2K columns at
    `temperature` takes column k of p_b as the positive of column k of p_a. When `balance` is
    True, `entropy_balance` of each view is added (log K - H(P_a) + log K - H(P_b)).
    Returns a scalar (float32 for half inputs). Symmetric in p_a and p_b.

    Warns (UserWarning) when K >= B / 2: the columns become too short to tell K clusters apart
    and the loss stops separating them (a known failure of CC); use a larger batch.
    """
    parts = _cluster_contrastive_parts(
        p_a, p_b, temperature, balance=balance, check_finite=check_finite, stacklevel=3
    )
    return parts["contrast"] + parts["balance"]


def _cluster_contrastive_parts(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    temperature: float,
    *,
    balance: bool,
    check_finite: bool,
    stacklevel: int,
) -> dict[str, torch.Tensor]:
    _check_pair(p_a, p_b, ("p_a", "p_b"), "(B, K)", check_finite=check_finite)
    _check_temperature(temperature)
    batch_size, clusters = p_a.shape
    if clusters < 2:
        raise DataError(
            f"p_a and p_b need at least 2 clusters (columns) for the cluster loss; got shape "
            f"{tuple(p_a.shape)}"
        )
    if 2 * clusters >= batch_size:
        warnings.warn(
            f"cluster_contrastive_loss: {clusters} clusters for a batch of {batch_size} samples; "
            "the cluster loss fails when the number of clusters approaches the batch size "
            "(K >= B / 2): use a larger batch or fewer clusters",
            UserWarning,
            stacklevel=stacklevel,
        )
    dtype = _compute_dtype(p_a, p_b)
    with _without_autocast(p_a.device):
        p_a = p_a.to(dtype)
        p_b = p_b.to(dtype)
        columns_a = F.normalize(p_a.T, dim=1, eps=_NORM_FLOOR)
        columns_b = F.normalize(p_b.T, dim=1, eps=_NORM_FLOOR)
        contrast = _nt_xent(columns_a, columns_b, temperature)
        if balance:
            balance_term = _entropy_balance(p_a) + _entropy_balance(p_b)
        else:
            balance_term = contrast.new_zeros(())
    return {"contrast": contrast, "balance": balance_term}


def cross_correlation_loss_parts(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    off_diagonal_weight: float = 0.005,
    eps: float = 1e-5,
    *,
    check_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """Cross-correlation loss split into {"on_diagonal": ..., "off_diagonal": ...}.

    "off_diagonal" is already multiplied by `off_diagonal_weight`, so the parts sum to
    `cross_correlation_loss`. See that function for the definition.
    """
    _check_pair(p_a, p_b, ("p_a", "p_b"), "(B, K)", check_finite=check_finite)
    if not (off_diagonal_weight >= 0 and math.isfinite(off_diagonal_weight)):
        raise DataError(
            f"off_diagonal_weight must be a finite number >= 0; got {off_diagonal_weight!r}"
        )
    if not (eps >= 0 and math.isfinite(eps)):
        raise DataError(f"eps must be a finite number >= 0; got {eps!r}")
    batch_size, clusters = p_a.shape
    dtype = _compute_dtype(p_a, p_b)
    with _without_autocast(p_a.device):
        standard_a = _standardise(p_a.to(dtype), eps)
        standard_b = _standardise(p_b.to(dtype), eps)
        correlation = standard_a.T @ standard_b / batch_size
        diagonal = torch.eye(clusters, dtype=torch.bool, device=correlation.device)
        on_diagonal = (1 - correlation.diagonal()).pow(2).sum()
        off_diagonal = correlation.masked_fill(diagonal, 0).pow(2).sum() * off_diagonal_weight
    return {"on_diagonal": on_diagonal, "off_diagonal": off_diagonal}


def cross_correlation_loss(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    off_diagonal_weight: float = 0.005,
    eps: float = 1e-5,
    *,
    check_finite: bool = False,
) -> torch.Tensor:
    """Between-cluster redundancy: each output agrees across views, different outputs decorrelate.

    p_a, p_b: (B, K) outputs of two views (soft assignments in SSCC; any real values work).
    Each column is standardised over the batch without a learned scale,
    y = (p - mean) / sqrt(var + eps) with the *biased* variance (divide by B), as the SSCC
    reference's BatchNorm1d(affine=False) does in training mode; eps keeps a constant column at
    0 instead of NaN (eps = 0 is allowed but then a constant column gives NaN). Then
    C = Y_a^T Y_b / B (K, K) and the loss is
    sum_k (1 - C_kk)^2 + off_diagonal_weight * sum_{k != l} C_kl^2.
    Returns a scalar (float32 for half inputs). Symmetric in p_a and p_b (C becomes C^T).
    """
    parts = cross_correlation_loss_parts(
        p_a, p_b, off_diagonal_weight, eps, check_finite=check_finite
    )
    return parts["on_diagonal"] + parts["off_diagonal"]


# ----------------------------------------------------------------------------- self-organizing
# S3OCNet's self-labelling loss (docs/methods.md, sections 3 and 6.4) and its anti-collapse choices.

ANTI_COLLAPSE_CHOICES = ("cross_view", "balance", "sinkhorn")


def _check_balance_weight(balance_weight: float) -> None:
    if not (balance_weight >= 0 and math.isfinite(balance_weight)):
        raise DataError(f"balance_weight must be a finite number >= 0; got {balance_weight!r}")


def _one_hot_argmax(scores: torch.Tensor) -> torch.Tensor:
    """(N, K) -> (N, K) one-hot of each row's argmax, in `scores`' dtype, with no gradient."""
    with torch.no_grad():
        labels = scores.detach().argmax(dim=1)
        return F.one_hot(labels, scores.shape[1]).to(scores.dtype)


def sinkhorn_targets(
    similarities: torch.Tensor,
    n_iters: int = 3,
    epsilon: float = 0.05,
    *,
    check_finite: bool = False,
) -> torch.Tensor:
    """Balanced hard targets: Sinkhorn-Knopp on the similarities (as SwAV), then one-hot argmax.

    similarities: (N, K) scores of N samples against K clusters (higher = closer). Starting
    from Q = exp(similarities / epsilon), the iterations alternately give every cluster the same
    total mass (columns) and every sample a total of 1 (rows), so the batch is spread nearly
    evenly over the clusters while each sample keeps its preference order; the target is each
    row's argmax. Computed in the log domain (no overflow for large scores), without gradient.
    `epsilon` is in the similarities' units (0.05 suits cosines in [-1, 1]); smaller follows the
    similarities more closely, larger balances harder. Assumes the batch's true clusters are of
    roughly equal size. Returns (N, K) one-hot, dtype float32 for half inputs, else the input's.
    """
    _check_one(similarities, "similarities", "(N, K)", check_finite=check_finite)
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or n_iters < 1:
        raise DataError(f"n_iters must be an integer >= 1; got {n_iters!r}")
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise DataError(f"epsilon must be a finite number > 0; got {epsilon!r}")
    dtype = _compute_dtype(similarities)
    with torch.no_grad(), _without_autocast(similarities.device):
        log_q = similarities.detach().to(dtype) / epsilon
        for _ in range(n_iters):
            # Every cluster (column) the same mass, then every sample (row) a mass of 1; the
            # constant factors 1/K and 1/N of SwAV do not change the argmax.
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True)
            log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True)
        return _one_hot_argmax(log_q)


def self_organizing_loss_parts(
    soft: torch.Tensor,
    target: torch.Tensor | None = None,
    *,
    balance_weight: float = 0.0,
    check_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """Self-labelling loss split into {"self_label": ..., "balance": ...}.

    soft: (N, K) soft assignments (rows sum to 1). target: (N, K) scores whose row argmax is
    each sample's hard label (similarities, soft assignments of another view, or one-hot
    targets such as `sinkhorn_targets`); None takes the argmax of `soft` itself. The hard label
    is always detached: the gradient flows only through `soft`.

    "self_label" = mean_i -log soft[i, argmax_k target[i, k]] (cross-entropy against the one-hot
    hard target; soft is floored at 1e-12 inside the log). "balance" = balance_weight *
    (log K - H(mean_i soft_i)), a zero tensor when balance_weight is 0 (logs keep their keys).
    Scalars, float32 for half inputs.
    """
    _check_one(soft, "soft", "(N, K)", check_finite=check_finite)
    if target is not None:
        _check_pair(soft, target, ("soft", "target"), "(N, K)", check_finite=check_finite)
    _check_balance_weight(balance_weight)
    dtype = _compute_dtype(soft)
    with _without_autocast(soft.device):
        soft = soft.to(dtype)
        labels = _one_hot_argmax(soft if target is None else target).argmax(dim=1)
        chosen = soft.gather(1, labels[:, None]).squeeze(1)
        self_label = -chosen.clamp_min(_PROBABILITY_FLOOR).log().mean()
        if balance_weight > 0:
            balance = balance_weight * _entropy_balance(soft)
        else:
            balance = self_label.new_zeros(())
    return {"self_label": self_label, "balance": balance}


def self_organizing_loss(
    soft: torch.Tensor,
    target: torch.Tensor | None = None,
    *,
    balance_weight: float = 0.0,
    check_finite: bool = False,
) -> torch.Tensor:
    """Cross-entropy between the hard (one-hot argmax, no gradient) and the soft assignment,
    plus `balance_weight` x (log K - H(mean soft)). soft, target: (N, K). A scalar; see
    `self_organizing_loss_parts` for the terms."""
    parts = self_organizing_loss_parts(
        soft, target, balance_weight=balance_weight, check_finite=check_finite
    )
    return parts["self_label"] + parts["balance"]


def parse_anti_collapse(anti_collapse: str | tuple[str, ...] | list[str]) -> frozenset[str]:
    """The set of anti-collapse choices named by `anti_collapse`.

    Accepts "none" (the empty set), one name of `ANTI_COLLAPSE_CHOICES`, names joined with "+"
    ("cross_view+balance"), or a sequence of names. Raises `DataError` naming the bad value.
    """
    if isinstance(anti_collapse, str):
        names = [] if anti_collapse == "none" else anti_collapse.split("+")
    elif isinstance(anti_collapse, tuple | list | set | frozenset):
        names = list(anti_collapse)
    else:
        raise DataError(
            f"anti_collapse must be a string or a sequence of strings; got "
            f"{type(anti_collapse).__name__}"
        )
    unknown = [name for name in names if name not in ANTI_COLLAPSE_CHOICES]
    if unknown:
        raise DataError(
            f"anti_collapse: unknown choice(s) {unknown}; choose 'none' or any of "
            f"{ANTI_COLLAPSE_CHOICES} (joined with '+')"
        )
    return frozenset(names)


def soch_loss_parts(
    soft_a: torch.Tensor,
    soft_b: torch.Tensor,
    similarities_a: torch.Tensor | None = None,
    similarities_b: torch.Tensor | None = None,
    *,
    anti_collapse: str | tuple[str, ...] | list[str] = "cross_view+balance",
    balance_weight: float = 1.0,
    sinkhorn_iters: int = 3,
    sinkhorn_epsilon: float = 0.05,
    check_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """S3OCNet's loss on two views of one batch: {"self_label", "balance", "loss"}.

    soft_a, soft_b: (B, K) soft assignments of the same B samples under two augmentations;
    similarities_a, similarities_b: (B, K) the head's similarities behind them (needed only by
    "sinkhorn"). This function is the one place where the anti-collapse choices live; they
    combine freely (`parse_anti_collapse`):

    - "cross_view": view a's hard target comes from view b and the other way round (swapped
      prediction); without it, each view is its own target (plain self-labelling).
    - "sinkhorn": the hard target is `sinkhorn_targets` of the source view's similarities
      (balanced over the batch) instead of the argmax of its soft assignment.
    - "balance": adds `balance_weight` x (log K - H(mean soft)) of each view.

    "self_label" and "balance" are the means over the two views of `self_organizing_loss_parts`;
    "loss" is their sum. With "none", each view self-labels from its own argmax, which a network
    can satisfy by putting every sample in one cluster (see tests/test_soch.py for what the toy
    problem shows). Scalars, float32 for half inputs. Symmetric in a and b.
    """
    choices = parse_anti_collapse(anti_collapse)
    _check_pair(soft_a, soft_b, ("soft_a", "soft_b"), "(B, K)", check_finite=check_finite)
    _check_balance_weight(balance_weight)
    if "balance" in choices and balance_weight == 0:
        raise DataError("balance_weight must be > 0 when anti_collapse includes 'balance'")
    if "sinkhorn" in choices:
        if similarities_a is None or similarities_b is None:
            raise DataError(
                "similarities_a and similarities_b are needed when anti_collapse includes "
                "'sinkhorn'"
            )
        _check_pair(
            similarities_a,
            similarities_b,
            ("similarities_a", "similarities_b"),
            "(B, K)",
            check_finite=check_finite,
        )
        if similarities_a.shape != soft_a.shape:
            raise DataError(
                f"similarities_a and soft_a must have the same shape (B, K); got "
                f"{tuple(similarities_a.shape)} and {tuple(soft_a.shape)}"
            )
        target_a = sinkhorn_targets(similarities_a, sinkhorn_iters, sinkhorn_epsilon)
        target_b = sinkhorn_targets(similarities_b, sinkhorn_iters, sinkhorn_epsilon)
    else:
        target_a, target_b = soft_a, soft_b
    if "cross_view" in choices:
        target_a, target_b = target_b, target_a
    weight = balance_weight if "balance" in choices else 0.0
    parts_a = self_organizing_loss_parts(soft_a, target_a, balance_weight=weight)
    parts_b = self_organizing_loss_parts(soft_b, target_b, balance_weight=weight)
    parts = {key: (parts_a[key] + parts_b[key]) / 2 for key in ("self_label", "balance")}
    parts["loss"] = parts["self_label"] + parts["balance"]
    return parts


# ----------------------------------------------------------------------------- SCAN


def scan_loss_parts(
    anchors: torch.Tensor,
    neighbours: torch.Tensor,
    entropy_weight: float = 5.0,
    *,
    check_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """SCAN's neighbour-consistency loss (Van Gansbeke et al., 2020), split into its terms.

    anchors, neighbours: (B, K) soft assignments of B samples and of one mined nearest
    neighbour of each (row i of `neighbours` is a neighbour of row i of `anchors`).

    - "consistency" = -mean_i log(p_i . q_i): a sample and its neighbour should fall in the
      same cluster, confidently (the dot product is 1 only for equal one-hot rows);
    - "entropy" = -entropy_weight * H(P), P_k = mean_i p_ik: the batch should spread over the
      clusters, against the trivial solution of one cluster for all.

    Returns {"consistency", "entropy", "loss"} (loss = the sum), scalars (float32 for half
    inputs). The dot product is floored at 1e-12 inside the log.
    """
    _check_pair(anchors, neighbours, ("anchors", "neighbours"), "(B, K)", check_finite=check_finite)
    if not (entropy_weight >= 0 and math.isfinite(entropy_weight)):
        raise DataError(f"entropy_weight must be a finite number >= 0; got {entropy_weight!r}")
    dtype = _compute_dtype(anchors, neighbours)
    with _without_autocast(anchors.device):
        p, q = anchors.to(dtype), neighbours.to(dtype)
        agreement = (p * q).sum(dim=1).clamp_min(_PROBABILITY_FLOOR)
        consistency = -agreement.log().mean()
        mean_assignment = p.mean(dim=0)
        entropy = -(mean_assignment * mean_assignment.clamp_min(_PROBABILITY_FLOOR).log()).sum()
        parts = {"consistency": consistency, "entropy": -entropy_weight * entropy}
    parts["loss"] = parts["consistency"] + parts["entropy"]
    return parts


def confident_targets(
    probabilities: torch.Tensor, threshold: float = 0.99
) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-labelling targets: (indices of the rows whose top probability exceeds `threshold`,
    their argmax clusters). probabilities: (B, K); no gradient flows through the choice."""
    _check_one(probabilities, "probabilities", "(B, K)", check_finite=False)
    if not 0 < threshold < 1:
        raise DataError(f"threshold must lie in (0, 1); got {threshold!r}")
    top, clusters = probabilities.detach().max(dim=1)
    confident = torch.nonzero(top > threshold, as_tuple=True)[0]
    return confident, clusters[confident]


def self_labelling_loss(
    logits: torch.Tensor, targets: torch.Tensor, n_clusters: int | None = None
) -> torch.Tensor:
    """Class-balanced cross-entropy of `logits` (N, K) towards pseudo-labels `targets` (N,):
    SCAN's self-labelling step. Each cluster's weight is inversely proportional to its share of
    the targets (clusters absent from the targets get none), so a large cluster does not absorb
    the small ones. Returns a scalar; 0 (with a gradient path) when there is no target."""
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise DataError(
            f"logits (N, K) and targets (N,) must agree; got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    k = logits.shape[1] if n_clusters is None else n_clusters
    if targets.numel() == 0:
        return logits.sum() * 0.0
    dtype = _compute_dtype(logits)
    with _without_autocast(logits.device):
        counts = torch.bincount(targets, minlength=k).to(dtype)
        weights = torch.where(counts > 0, counts.sum() / (counts.clamp_min(1) * k), counts)
        return F.cross_entropy(logits.to(dtype), targets, weight=weights)
