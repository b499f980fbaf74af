"""Tests of explore.losses: hand-computed values, a loop-by-loop reference, properties, training
steps, precision and input validation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explore.errors import DataError
from explore.losses import (
    cluster_contrastive_loss,
    cluster_contrastive_loss_parts,
    cross_correlation_loss,
    cross_correlation_loss_parts,
    entropy_balance,
    instance_contrastive_loss,
)

E = math.e


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _soft_assignments(batch: int, clusters: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    logits = 2 * torch.randn(batch, clusters, generator=_generator(seed), dtype=dtype)
    return logits.softmax(dim=1)


# ----------------------------------------------------------------------------- references
# Straightforward transcriptions of docs/methods.md, section 6, one Python loop per sum,
# in Python floats (double precision). They share no code with explore.losses.


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / max(norm, 1e-12) for v in vector]


def _reference_nt_xent(view_a: list[list[float]], view_b: list[list[float]], tau: float) -> float:
    rows = [_unit(v) for v in view_a] + [_unit(v) for v in view_b]
    count = len(view_a)
    total = 0.0
    for i in range(2 * count):
        positive = (i + count) % (2 * count)  # the same sample (or cluster) in the other view
        similarity = [
            sum(x * y for x, y in zip(rows[i], rows[k], strict=True)) / tau
            for k in range(2 * count)
        ]
        denominator = sum(math.exp(similarity[k]) for k in range(2 * count) if k != i)
        total += -math.log(math.exp(similarity[positive]) / denominator)
    return total / (2 * count)


def _reference_balance(p: list[list[float]]) -> float:
    batch, clusters = len(p), len(p[0])
    shares = [sum(p[i][k] for i in range(batch)) / batch for k in range(clusters)]
    entropy = -sum(share * math.log(share) for share in shares if share > 0)
    return math.log(clusters) - entropy


def _columns(p: list[list[float]]) -> list[list[float]]:
    return [[row[k] for row in p] for k in range(len(p[0]))]


def _reference_cluster_loss(p_a, p_b, tau: float) -> float:
    contrast = _reference_nt_xent(_columns(p_a), _columns(p_b), tau)
    return contrast + _reference_balance(p_a) + _reference_balance(p_b)


def _reference_cross_correlation(p_a, p_b, weight: float, eps: float) -> float:
    batch, clusters = len(p_a), len(p_a[0])

    def standardise(p):
        out = [[0.0] * clusters for _ in range(batch)]
        for k in range(clusters):
            mean = sum(p[i][k] for i in range(batch)) / batch
            variance = sum((p[i][k] - mean) ** 2 for i in range(batch)) / batch  # biased
            for i in range(batch):
                out[i][k] = (p[i][k] - mean) / math.sqrt(variance + eps)
        return out

    y_a, y_b = standardise(p_a), standardise(p_b)
    loss = 0.0
    for k in range(clusters):
        for m in range(clusters):
            c = sum(y_a[i][k] * y_b[i][m] for i in range(batch)) / batch
            loss += (1 - c) ** 2 if k == m else weight * c**2
    return loss


# ----------------------------------------------------------------------------- hand values


def test_instance_loss_by_hand_identical_views_orthogonal_samples():
    # z_a = z_b = [e1, e2]; rows r0 = e1, r1 = e2, r2 = e1, r3 = e2; tau = 0.5.
    # Row 0: s_pos = s(r0, r2) = 1 / 0.5 = 2; negatives s(r0, r1) = s(r0, r3) = 0.
    # loss_0 = -log(e^2 / (e^2 + e^0 + e^0)) = log(1 + 2 e^-2); every row is alike.
    z = torch.eye(2)
    expected = math.log(1 + 2 * E**-2)  # 0.239545
    assert instance_contrastive_loss(z, z).item() == pytest.approx(expected, abs=1e-6)


def test_instance_loss_by_hand_swapped_views():
    # z_a = [e1, e2], z_b = [e2, e1]: rows r0 = e1, r1 = e2, r2 = e2, r3 = e1; tau = 0.5.
    # Row 0: positive r2 = e2 -> s = 0; negatives r1 = e2 -> 0, r3 = e1 -> 2.
    # loss_0 = -log(e^0 / (e^0 + e^0 + e^2)) = log(2 + e^2); every row is alike.
    z_a = torch.eye(2)
    z_b = torch.eye(2).flip(0)
    expected = math.log(2 + E**2)  # 2.239545
    assert instance_contrastive_loss(z_a, z_b).item() == pytest.approx(expected, abs=1e-6)


def test_instance_loss_normalises_its_inputs():
    # [[3, 0], [0, 0.5]] has the same directions as the identity: same value as above.
    z = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    expected = math.log(1 + 2 * E**-2)
    assert instance_contrastive_loss(z, z).item() == pytest.approx(expected, abs=1e-6)


def test_instance_loss_by_hand_other_temperature():
    # Identical orthogonal views at tau = 1: s_pos = 1, negatives 0 -> log(1 + 2 e^-1).
    z = torch.eye(2)
    expected = math.log(1 + 2 / E)
    assert instance_contrastive_loss(z, z, temperature=1.0).item() == pytest.approx(
        expected, abs=1e-6
    )


def test_cluster_loss_by_hand_one_hot_balanced():
    # p_a = p_b = [[1, 0], [0, 1]]: columns c0 = (1, 0), c1 = (0, 1), tau = 1.
    # Column rows r0 = c0_a, r1 = c1_a, r2 = c0_b, r3 = c1_b; row 0: s_pos = 1, negatives 0, 0.
    # contrast = -log(e / (e + 1 + 1)) = log(1 + 2 / e) = 0.551445.
    # P = (1/2, 1/2) in each view -> H = log 2 -> balance = log 2 - log 2 = 0 per view.
    p = torch.eye(2)
    with pytest.warns(UserWarning, match="batch size"):
        parts = cluster_contrastive_loss_parts(p, p)
    assert parts["contrast"].item() == pytest.approx(math.log(1 + 2 / E), abs=1e-6)
    assert parts["balance"].item() == pytest.approx(0.0, abs=1e-7)


def test_cluster_loss_by_hand_collapsed():
    # p_a = p_b = [[1, 0], [1, 0]]: column 0 = (1, 1)/sqrt 2 = u, column 1 = (0, 0) stays 0.
    # Rows u, 0, u, 0 at tau = 1.
    # Rows 0 and 2 (u): s_pos = 1, negatives u.0 = 0 twice -> log(1 + 2 / e).
    # Rows 1 and 3 (0): all similarities 0 -> -log(1 / 3) = log 3.
    # contrast = (2 log(1 + 2/e) + 2 log 3) / 4.
    # P = (1, 0): H = -(1 log 1 + 0) = 0 -> balance = log 2 per view, 2 log 2 for both.
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    contrast = (math.log(1 + 2 / E) + math.log(3)) / 2
    with pytest.warns(UserWarning):
        total = cluster_contrastive_loss(p, p)
    assert total.item() == pytest.approx(contrast + 2 * math.log(2), abs=1e-6)


def test_cluster_loss_by_hand_uniform():
    # p_a = p_b = [[1/2, 1/2], [1/2, 1/2]]: every column is (1, 1)/sqrt 2, so every similarity
    # is 1: each row -log(e / (3 e)) = log 3. P = (1/2, 1/2): balance 0.
    p = torch.full((2, 2), 0.5)
    with pytest.warns(UserWarning):
        total = cluster_contrastive_loss(p, p)
    assert total.item() == pytest.approx(math.log(3), abs=1e-6)


def test_entropy_balance_by_hand():
    # [[1, 0, 0], [0, 1, 0]]: P = (1/2, 1/2, 0), H = log 2 -> log 3 - log 2 = log 1.5.
    p = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert entropy_balance(p).item() == pytest.approx(math.log(1.5), abs=1e-6)
    # [[3/4, 1/4], [1/4, 3/4]]: P = (1/2, 1/2) -> 0 although no sample is certain.
    p = torch.tensor([[0.75, 0.25], [0.25, 0.75]])
    assert entropy_balance(p).item() == pytest.approx(0.0, abs=1e-7)
    # [[1/2, 1/2], [1, 0]]: P = (3/4, 1/4), H = -(3/4 log 3/4 + 1/4 log 1/4).
    p = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert entropy_balance(p).item() == pytest.approx(math.log(2) - entropy, abs=1e-6)


def test_cross_correlation_by_hand_identical():
    # p_a = p_b = [[1, 0], [0, 1]]. Column 0 = (1, 0): mean 1/2, centred (1/2, -1/2), biased
    # variance 1/4, standardised (1/2, -1/2) / sqrt(1/4 + eps). Column 1 is its negative.
    # C_00 = C_11 = (1/4 + 1/4) / 2 / (1/4 + eps) = r with r = 0.25 / (0.25 + eps);
    # C_01 = C_10 = -r. loss = 2 (1 - r)^2 + lambda * 2 r^2.
    p = torch.eye(2)
    r = 0.25 / (0.25 + 1e-5)
    parts = cross_correlation_loss_parts(p, p)
    assert parts["on_diagonal"].item() == pytest.approx(2 * (1 - r) ** 2, abs=1e-8)
    assert parts["off_diagonal"].item() == pytest.approx(0.005 * 2 * r**2, abs=1e-7)
    # With eps = 0 the standardised columns are exactly (1, -1) and (-1, 1): C = [[1, -1], [-1, 1]].
    assert cross_correlation_loss(p, p, eps=0.0).item() == pytest.approx(0.01, abs=1e-7)


def test_cross_correlation_by_hand_swapped():
    # p_b has the columns of p_a swapped, so Y_b = -Y_a: C = [[-r, r], [r, -r]].
    # loss = 2 (1 + r)^2 + lambda * 2 r^2 (about 8.01).
    p_a = torch.eye(2)
    p_b = torch.eye(2).flip(1)
    r = 0.25 / (0.25 + 1e-5)
    expected = 2 * (1 + r) ** 2 + 0.005 * 2 * r**2
    assert cross_correlation_loss(p_a, p_b).item() == pytest.approx(expected, abs=1e-5)


# ----------------------------------------------------------------------------- reference


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("temperature", [0.5, 0.2, 1.0])
def test_instance_loss_matches_reference(dtype, temperature):
    z_a = torch.randn(6, 3, generator=_generator(1), dtype=torch.float64)
    z_b = z_a + 0.5 * torch.randn(6, 3, generator=_generator(2), dtype=torch.float64)
    expected = _reference_nt_xent(z_a.tolist(), z_b.tolist(), temperature)
    value = instance_contrastive_loss(z_a.to(dtype), z_b.to(dtype), temperature)
    assert value.item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_cluster_loss_matches_reference(dtype, temperature):
    p_a = _soft_assignments(12, 4, seed=3)
    p_b = _soft_assignments(12, 4, seed=4)
    expected = _reference_cluster_loss(p_a.tolist(), p_b.tolist(), temperature)
    value = cluster_contrastive_loss(p_a.to(dtype), p_b.to(dtype), temperature)
    assert value.item() == pytest.approx(expected, abs=1e-5)
    # Balance off leaves the contrastive part alone.
    contrast = _reference_nt_xent(_columns(p_a.tolist()), _columns(p_b.tolist()), temperature)
    no_balance = cluster_contrastive_loss(p_a.to(dtype), p_b.to(dtype), temperature, balance=False)
    assert no_balance.item() == pytest.approx(contrast, abs=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("weight", "eps"), [(0.005, 1e-5), (0.5, 1e-3), (1.0, 0.0)])
def test_cross_correlation_matches_reference(dtype, weight, eps):
    p_a = _soft_assignments(10, 5, seed=5)
    p_b = _soft_assignments(10, 5, seed=6)
    expected = _reference_cross_correlation(p_a.tolist(), p_b.tolist(), weight, eps)
    value = cross_correlation_loss(p_a.to(dtype), p_b.to(dtype), weight, eps)
    assert value.item() == pytest.approx(expected, abs=1e-5)


def test_entropy_balance_matches_reference():
    p = _soft_assignments(9, 6, seed=7)
    assert entropy_balance(p).item() == pytest.approx(_reference_balance(p.tolist()), abs=1e-10)


# ----------------------------------------------------------------------------- properties


def test_instance_loss_lower_for_identical_orthogonal_views_than_random():
    batch = 8
    z = torch.eye(batch)
    aligned = instance_contrastive_loss(z, z)
    # Every row: s_pos = 2, 2B - 2 negatives at 0 -> log(1 + (2B - 2) e^-2).
    assert aligned.item() == pytest.approx(math.log(1 + (2 * batch - 2) * E**-2), abs=1e-6)
    z_a = torch.randn(batch, batch, generator=_generator(8))
    z_b = torch.randn(batch, batch, generator=_generator(9))
    assert aligned < instance_contrastive_loss(z_a, z_b) - 1.0


@pytest.mark.parametrize("clusters", [2, 5, 10])
def test_balance_zero_for_uniform_and_log_k_for_collapse(clusters):
    uniform = torch.full((30, clusters), 1.0 / clusters)
    assert entropy_balance(uniform).item() == pytest.approx(0.0, abs=1e-6)
    balanced_one_hot = torch.eye(clusters).repeat(3, 1)
    assert entropy_balance(balanced_one_hot).item() == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.zeros(30, clusters)
    collapsed[:, 0] = 1.0
    assert entropy_balance(collapsed).item() == pytest.approx(math.log(clusters), abs=1e-6)
    # And the cluster loss adds it for each view.
    parts = cluster_contrastive_loss_parts(collapsed, collapsed)
    assert parts["balance"].item() == pytest.approx(2 * math.log(clusters), abs=1e-6)


def test_cross_correlation_near_zero_for_identical_decorrelated_columns():
    # Columns = the 3 bits of the sample index 0..7: binary, balanced and pairwise independent,
    # so their standardised columns are orthogonal and C = r I with r = 1 - O(eps).
    index = torch.arange(8)
    bits = torch.stack([(index >> bit) & 1 for bit in range(3)], dim=1).float()
    assert cross_correlation_loss(bits, bits).item() < 1e-6
    p_a = _soft_assignments(16, 3, seed=10)
    p_b = _soft_assignments(16, 3, seed=11)
    assert cross_correlation_loss(p_a, p_b).item() > 0.1
    # Identical but correlated columns: only the off-diagonal part is left.
    parts = cross_correlation_loss_parts(p_a, p_a)
    assert parts["on_diagonal"].item() < 1e-6
    assert parts["off_diagonal"].item() > 0


def _instance(a, b):
    return instance_contrastive_loss(a, b)


def _cluster(a, b):
    return cluster_contrastive_loss(a.softmax(1), b.softmax(1))


def _cross(a, b):
    return cross_correlation_loss(a.softmax(1), b.softmax(1))


PAIR_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "instance": _instance,
    "cluster": _cluster,
    "cross_correlation": _cross,
}


@pytest.mark.parametrize("name", PAIR_LOSSES)
def test_losses_are_symmetric(name):
    loss = PAIR_LOSSES[name]
    a = torch.randn(16, 4, generator=_generator(12), dtype=torch.float64)
    b = torch.randn(16, 4, generator=_generator(13), dtype=torch.float64)
    assert loss(a, b).item() == pytest.approx(loss(b, a).item(), abs=1e-12)
    assert loss(a, b).item() != pytest.approx(loss(a, a).item(), abs=1e-3)


def test_parts_sum_to_totals():
    p_a = _soft_assignments(16, 4, seed=14)
    p_b = _soft_assignments(16, 4, seed=15)
    parts = cluster_contrastive_loss_parts(p_a, p_b)
    assert set(parts) == {"contrast", "balance"}
    assert (parts["contrast"] + parts["balance"]).item() == pytest.approx(
        cluster_contrastive_loss(p_a, p_b).item(), abs=1e-12
    )
    assert parts["balance"].item() > 0
    unbalanced = cluster_contrastive_loss_parts(p_a, p_b, balance=False)
    assert unbalanced["balance"].item() == 0.0
    assert unbalanced["contrast"].item() == pytest.approx(parts["contrast"].item(), abs=1e-12)

    parts = cross_correlation_loss_parts(p_a, p_b, off_diagonal_weight=0.1)
    assert set(parts) == {"on_diagonal", "off_diagonal"}
    assert (parts["on_diagonal"] + parts["off_diagonal"]).item() == pytest.approx(
        cross_correlation_loss(p_a, p_b, off_diagonal_weight=0.1).item(), abs=1e-12
    )
    # The off-diagonal part carries its weight.
    doubled = cross_correlation_loss_parts(p_a, p_b, off_diagonal_weight=0.2)
    assert doubled["off_diagonal"].item() == pytest.approx(
        2 * parts["off_diagonal"].item(), rel=1e-9
    )
    assert cross_correlation_loss_parts(p_a, p_b, 0.0)["off_diagonal"].item() == 0.0


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=6),
        elements=st.floats(-10, 10),
    ),
    st.floats(0.05, 5.0),
)
def test_instance_loss_is_finite_non_negative_and_symmetric(values, temperature):
    z_a = torch.from_numpy(values)
    z_b = z_a.flip(0)
    value = instance_contrastive_loss(z_a, z_b, temperature)
    assert torch.isfinite(value)
    assert value.item() >= 0.0  # each row is -log of a probability
    assert value.item() == pytest.approx(
        instance_contrastive_loss(z_b, z_a, temperature).item(), abs=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=6),
        elements=st.floats(0, 1),
    )
)
def test_entropy_balance_between_zero_and_log_k(weights):
    p = torch.from_numpy(weights) + 1e-3
    p = p / p.sum(dim=1, keepdim=True)
    value = entropy_balance(p).item()
    assert -1e-12 <= value <= math.log(p.shape[1]) + 1e-12


# ----------------------------------------------------------------------------- training


def _train(loss_of_outputs, out_features: int, steps: int = 20) -> tuple[float, float]:
    """Adam on a Linear layer over two fixed noisy views of random data; first and last loss."""
    torch.manual_seed(0)
    data = torch.randn(64, 10, generator=_generator(16))
    view_a = data + 0.3 * torch.randn(64, 10, generator=_generator(17))
    view_b = data + 0.3 * torch.randn(64, 10, generator=_generator(18))
    layer = torch.nn.Linear(10, out_features)
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.05)
    values = []
    for _ in range(steps + 1):
        loss = loss_of_outputs(layer(view_a), layer(view_b))
        values.append(loss.item())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert all(math.isfinite(v) for v in values)
    return values[0], values[-1]


def test_instance_loss_decreases_with_training():
    first, last = _train(instance_contrastive_loss, out_features=8)
    assert last < 0.95 * first  # measured: 3.69 -> 3.25


def test_cluster_loss_decreases_with_training():
    first, last = _train(lambda a, b: cluster_contrastive_loss(a.softmax(1), b.softmax(1)), 4)
    assert last < 0.9 * first  # measured: 1.83 -> 1.27


def test_cross_correlation_loss_decreases_with_training():
    first, last = _train(lambda a, b: cross_correlation_loss(a.softmax(1), b.softmax(1)), 4)
    assert last < 0.5 * first  # measured: 0.054 -> 0.011


# ----------------------------------------------------------------------------- precision


DIRECT_PAIR_LOSSES = [
    pytest.param(instance_contrastive_loss, id="instance"),
    pytest.param(cluster_contrastive_loss, id="cluster"),
    pytest.param(cross_correlation_loss, id="cross_correlation"),
]


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss", DIRECT_PAIR_LOSSES)
def test_half_inputs_are_computed_in_float32_with_finite_gradients(loss, half):
    a = _soft_assignments(16, 4, seed=19, dtype=torch.float32).to(half).requires_grad_()
    b = _soft_assignments(16, 4, seed=20, dtype=torch.float32).to(half).requires_grad_()
    value = loss(a, b)
    assert value.dtype == torch.float32
    # Same value as on the float32 copies of the (rounded) half inputs.
    assert value.item() == pytest.approx(loss(a.float(), b.float()).item(), abs=1e-6)
    value.backward()
    for tensor in (a, b):
        assert tensor.grad.dtype == half
        assert torch.isfinite(tensor.grad.float()).all()
        assert tensor.grad.abs().sum() > 0


def test_float64_inputs_stay_float64():
    z = torch.randn(4, 3, dtype=torch.float64, generator=_generator(21))
    assert instance_contrastive_loss(z, z.flip(0)).dtype == torch.float64
    assert torch.autograd.gradcheck(
        lambda a, b: cross_correlation_loss(a, b, 0.1), (z.clone().requires_grad_(), z.flip(0))
    )


@pytest.mark.parametrize("loss", DIRECT_PAIR_LOSSES)
def test_losses_ignore_autocast(loss):
    # Under CPU autocast the Linear outputs are bfloat16; the loss must still be float32 and
    # equal to the loss of those outputs cast up outside autocast.
    layer = torch.nn.Linear(6, 4)
    x_a = torch.randn(16, 6, generator=_generator(22))
    x_b = torch.randn(16, 6, generator=_generator(23))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_a, out_b = layer(x_a).softmax(1), layer(x_b).softmax(1)
        value = loss(out_a, out_b)
    assert out_a.dtype == torch.bfloat16
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(loss(out_a.float(), out_b.float()).item(), abs=1e-6)


def test_zero_rows_and_empty_clusters_give_finite_gradients():
    z = torch.zeros(4, 3, requires_grad=True)
    instance_contrastive_loss(z, z).backward()
    assert torch.isfinite(z.grad).all()
    p = torch.tensor([[1.0, 0.0, 0.0]] * 8, requires_grad=True)
    cluster_contrastive_loss(p, p).backward()
    assert torch.isfinite(p.grad).all()


# ----------------------------------------------------------------------------- warnings


def test_cluster_loss_warns_when_clusters_approach_batch_size():
    p = _soft_assignments(8, 4, seed=24)
    with pytest.warns(UserWarning, match="4 clusters for a batch of 8") as record:
        cluster_contrastive_loss(p, p)
    assert record[0].filename == __file__  # points at the caller
    with pytest.warns(UserWarning) as record:
        cluster_contrastive_loss_parts(p, p)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster_contrastive_loss(_soft_assignments(9, 4, seed=25), _soft_assignments(9, 4, 26))


# ----------------------------------------------------------------------------- validation


NAMED_PAIR_LOSSES = [
    pytest.param(instance_contrastive_loss, "z_a", "z_b", id="instance"),
    pytest.param(cluster_contrastive_loss, "p_a", "p_b", id="cluster"),
    pytest.param(cross_correlation_loss, "p_a", "p_b", id="cross_correlation"),
]


@pytest.mark.parametrize(("loss", "first_name", "second_name"), NAMED_PAIR_LOSSES)
def test_invalid_shapes_raise_data_error(loss, first_name, second_name):
    good = _soft_assignments(16, 3, seed=27, dtype=torch.float32)
    with pytest.raises(DataError, match=rf"{first_name} and {second_name}.*\(16, 3\).*\(16, 4\)"):
        loss(good, _soft_assignments(16, 4, seed=28, dtype=torch.float32))
    with pytest.raises(DataError, match=rf"{first_name} must be 2-D.*\(16,\)"):
        loss(good[:, 0], good[:, 0])
    with pytest.raises(DataError, match=rf"{second_name} must be 2-D.*\(2, 16, 3\)"):
        loss(good, good.expand(2, 16, 3))
    with pytest.raises(DataError, match=rf"{first_name} needs a batch of at least 2"):
        loss(good[:1], good[:1])
    with pytest.raises(DataError, match=rf"{first_name} must be floating-point"):
        loss(good.long(), good.long())
    with pytest.raises(DataError, match=rf"{first_name} must be a torch.Tensor"):
        loss(good.numpy(), good)


@pytest.mark.parametrize(("loss", "first_name", "second_name"), NAMED_PAIR_LOSSES)
def test_non_finite_inputs_raise_when_checked(loss, first_name, second_name):
    good = _soft_assignments(16, 3, seed=29, dtype=torch.float32)
    bad = good.clone()
    bad[3, 1] = float("nan")
    bad[5, 0] = float("inf")
    with pytest.raises(DataError, match=rf"{second_name} holds 2 non-finite.*\(16, 3\)"):
        loss(good, bad, check_finite=True)
    # Off by default (no device sync): the NaN reaches the loss value instead.
    assert torch.isnan(loss(good, bad))
    assert torch.isfinite(loss(good, good, check_finite=True))


@pytest.mark.parametrize("temperature", [0.0, -0.5, float("inf"), float("nan")])
def test_bad_temperature_raises(temperature):
    z = torch.randn(8, 3, generator=_generator(30))
    with pytest.raises(DataError, match="temperature"):
        instance_contrastive_loss(z, z, temperature)
    with pytest.raises(DataError, match="temperature"):
        cluster_contrastive_loss(z.softmax(1), z.softmax(1), temperature)


def test_other_bad_arguments_raise():
    p = _soft_assignments(8, 3, seed=31, dtype=torch.float32)
    with pytest.raises(DataError, match="off_diagonal_weight"):
        cross_correlation_loss(p, p, off_diagonal_weight=-1.0)
    with pytest.raises(DataError, match="eps"):
        cross_correlation_loss(p, p, eps=-1e-5)
    with pytest.raises(DataError, match="at least 2 clusters.*\\(8, 1\\)"):
        cluster_contrastive_loss(p[:, :1], p[:, :1])
    with pytest.raises(DataError, match=r"p must be 2-D.*\(8,\)"):
        entropy_balance(p[:, 0])
    with pytest.raises(DataError, match="p holds 1 non-finite"):
        entropy_balance(torch.tensor([[float("nan"), 1.0], [0.5, 0.5]]), check_finite=True)
    with pytest.raises(DataError, match="same device"):
        instance_contrastive_loss(p, p.to("meta"))
