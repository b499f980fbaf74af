"""Tests of S3OCNet's self-organizing clustering heads (explore.models.soch) and their losses
(self_organizing_loss, sinkhorn_targets, soch_loss_parts in explore.losses): nearest-centre
assignment, temperature, hard targets without gradient, hand-computed values, Sinkhorn balance,
multilayer heads, and each anti-collapse choice trained on a toy problem."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from explore.errors import DataError
from explore.losses import (
    parse_anti_collapse,
    self_organizing_loss,
    self_organizing_loss_parts,
    sinkhorn_targets,
    soch_loss_parts,
)
from explore.models import (
    MultilayerSOCH,
    SelfOrganizingHead,
    multilayer_soch_loss_parts,
)

SIMILARITIES = ("cosine", "neg_sq_distance")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is faster than two fighting over a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Four centres on the axes of the plane, at distance 2 from the origin.
CENTRES = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]])


def _hand_head(similarity: str, temperature: float = 0.1) -> SelfOrganizingHead:
    head = SelfOrganizingHead(2, 4, similarity=similarity, temperature=temperature)
    head.set_centres(CENTRES)
    return head


# ----------------------------------------------------------------------------- the head


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_head_assigns_points_to_the_nearest_centre(similarity):
    # Points near each centre (in direction and in distance), in a shuffled order.
    points = torch.tensor([[1.8, 0.3], [-0.2, -2.4], [0.1, 1.7], [-2.2, 0.4], [2.5, -0.5]])
    nearest = torch.cdist(points, CENTRES).argmin(dim=1)
    assert nearest.tolist() == [0, 3, 1, 2, 0]
    head = _hand_head(similarity)
    assert head(points).argmax(dim=1).tolist() == nearest.tolist()
    assert head.similarities(points).argmax(dim=1).tolist() == nearest.tolist()


def test_similarities_by_hand():
    head_cosine = _hand_head("cosine")
    head_distance = _hand_head("neg_sq_distance")
    point = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    # cosine: (3, 4) / 5 against the axes -> 0.6, 0.8, -0.6, -0.8; the zero point -> 0.
    assert torch.allclose(
        head_cosine.similarities(point),
        torch.tensor([[0.6, 0.8, -0.6, -0.8], [0.0, 0.0, 0.0, 0.0]]),
        atol=1e-6,
    )
    # -|x - c|^2: (1^2 + 4^2), (3^2 + 2^2), (5^2 + 4^2), (3^2 + 6^2); the origin -> 4 each.
    assert torch.allclose(
        head_distance.similarities(point),
        torch.tensor([[-17.0, -13.0, -41.0, -45.0], [-4.0, -4.0, -4.0, -4.0]]),
        atol=1e-5,
    )


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_soft_rows_sum_to_one_and_sharpen_as_temperature_drops(similarity):
    points = torch.randn(16, 2, generator=_generator(1))
    maxima = []
    for temperature in (10.0, 1.0, 0.1, 0.01):
        soft = _hand_head(similarity, temperature)(points)
        assert soft.shape == (16, 4)
        assert torch.allclose(soft.sum(dim=1), torch.ones(16), atol=1e-6)
        assert bool((soft >= 0).all())
        maxima.append(soft.max(dim=1).values)
    for warmer, colder in zip(maxima, maxima[1:], strict=False):
        assert bool((colder >= warmer - 1e-6).all())
        assert colder.mean() > warmer.mean()
    assert maxima[0].mean() < 0.5  # near uniform (1/4) when hot
    assert maxima[-1].mean() > 0.95  # near one-hot when cold


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_hard_targets_are_one_hot_argmax_without_gradient(similarity):
    head = _hand_head(similarity)
    points = torch.randn(10, 2, generator=_generator(2), requires_grad=True)
    targets = head.hard_targets(points)
    assert targets.shape == (10, 4)
    assert not targets.requires_grad and targets.grad_fn is None
    assert torch.equal(targets.sum(dim=1), torch.ones(10))
    assert set(targets.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(targets.argmax(dim=1), head(points).argmax(dim=1))


def test_loss_gradient_flows_only_through_the_soft_side():
    soft_logits = torch.randn(6, 3, generator=_generator(3), requires_grad=True)
    target = torch.randn(6, 3, generator=_generator(4), requires_grad=True)
    loss = self_organizing_loss(soft_logits.softmax(dim=1), target, balance_weight=0.5)
    loss.backward()
    assert target.grad is None  # the hard target is detached
    assert soft_logits.grad is not None and float(soft_logits.grad.abs().sum()) > 0


def test_head_trains_its_centres_and_projection():
    head = SelfOrganizingHead(5, 3, projection_dim=4)
    features = torch.randn(8, 5, generator=_generator(5))
    self_organizing_loss(head(features), balance_weight=1.0).backward()
    assert head.weight.grad is not None and float(head.weight.grad.abs().sum()) > 0
    assert head.projection.weight.grad is not None
    assert head.centres is head.weight
    assert head.centres.shape == (3, 4)


def test_default_centres_are_orthonormal_rows():
    head = SelfOrganizingHead(8, 5)
    gram = head.centres.detach() @ head.centres.detach().T
    assert torch.allclose(gram, torch.eye(5), atol=1e-5)


def test_set_centres_copies_in_place_and_checks_the_shape():
    head = SelfOrganizingHead(2, 4)
    parameter = head.weight
    head.set_centres(CENTRES)
    assert head.weight is parameter
    assert torch.equal(head.centres.detach(), CENTRES)
    with pytest.raises(DataError, match=r"centres must have shape"):
        head.set_centres(torch.zeros(3, 2))
    with pytest.raises(DataError, match=r"non-finite"):
        head.set_centres(torch.full((4, 2), float("nan")))


def test_similarities_are_float32_under_low_precision_autocast():
    # Squared distances of features of norm 300 overflow float16 (max 65504); autocast is off
    # inside the head, so they stay finite in float32.
    head = SelfOrganizingHead(4, 3, similarity="neg_sq_distance", projection_dim=4)
    features = torch.full((5, 4), 300.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        similarities = head.similarities(features)
    assert similarities.dtype == torch.float32
    assert bool(torch.isfinite(similarities).all())
    plain_head = SelfOrganizingHead(4, 3).double()
    assert plain_head(features.double()).dtype == torch.float64


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"in_features": 4, "n_clusters": 1}, "n_clusters"),
        ({"in_features": 0, "n_clusters": 3}, "in_features"),
        ({"in_features": 4, "n_clusters": 3, "similarity": "dot"}, "similarity"),
        ({"in_features": 4, "n_clusters": 3, "temperature": 0.0}, "temperature"),
        ({"in_features": 4, "n_clusters": 3, "temperature": float("inf")}, "temperature"),
        ({"in_features": 4, "n_clusters": 3, "projection_dim": 0}, "projection_dim"),
    ],
)
def test_head_rejects_bad_hyper_parameters(arguments, message):
    with pytest.raises(DataError, match=message):
        SelfOrganizingHead(**arguments)


def test_head_rejects_features_of_the_wrong_shape():
    head = SelfOrganizingHead(4, 3)
    with pytest.raises(DataError, match=r"features must have 4 columns"):
        head(torch.zeros(5, 3))
    with pytest.raises(DataError, match=r"features must be a 2-D tensor"):
        head(torch.zeros(5, 4, 1))


# ----------------------------------------------------------------------------- multilayer


def test_multilayer_cascade_gives_one_output_per_layer_with_its_k():
    heads = MultilayerSOCH(16, [(12, 20), (8, 10), (None, 4)])
    features = torch.randn(7, 16, generator=_generator(6))
    soft = heads(features)
    assert [s.shape for s in soft] == [(7, 20), (7, 10), (7, 4)]
    for s in soft:
        assert torch.allclose(s.sum(dim=1), torch.ones(7), atol=1e-6)
    assert heads.n_clusters == 4
    # Cascade: each head reads the previous head's projected features.
    assert [head.in_features for head in heads.heads] == [16, 12, 8]
    assert [head.out_features for head in heads.heads] == [12, 8, 8]
    outputs = heads.outputs(features)
    assert [o.features.shape[1] for o in outputs] == [12, 8, 8]
    assert all(torch.equal(o.soft, s) for o, s in zip(outputs, soft, strict=True))


def test_multilayer_parallel_heads_all_read_the_backbone_feature():
    heads = MultilayerSOCH(16, [(12, 20), (8, 10), (None, 4)], arrangement="parallel")
    soft = heads(torch.randn(7, 16, generator=_generator(7)))
    assert [s.shape for s in soft] == [(7, 20), (7, 10), (7, 4)]
    assert [head.in_features for head in heads.heads] == [16, 16, 16]


@pytest.mark.parametrize(("arrangement", "reaches_first"), [("cascade", True), ("parallel", False)])
def test_last_layer_loss_trains_earlier_projections_only_in_a_cascade(arrangement, reaches_first):
    heads = MultilayerSOCH(6, [(5, 4), (3, 2)], arrangement=arrangement)
    last = heads(torch.randn(8, 6, generator=_generator(8)))[-1]
    self_organizing_loss(last, balance_weight=1.0).backward()
    first_projection = heads.heads[0].projection.weight
    reached = first_projection.grad is not None and float(first_projection.grad.abs().sum()) > 0
    assert reached is reaches_first


def test_multilayer_loss_adds_the_layers_up():
    heads = MultilayerSOCH(6, [(5, 4), (3, 2)])
    outputs_a = heads.outputs(torch.randn(8, 6, generator=_generator(9)))
    outputs_b = heads.outputs(torch.randn(8, 6, generator=_generator(10)))
    total = multilayer_soch_loss_parts(outputs_a, outputs_b, anti_collapse="sinkhorn+balance")
    layers = [
        soch_loss_parts(
            a.soft, b.soft, a.similarities, b.similarities, anti_collapse="sinkhorn+balance"
        )
        for a, b in zip(outputs_a, outputs_b, strict=True)
    ]
    for key in ("self_label", "balance", "loss"):
        assert total[key].item() == pytest.approx(sum(p[key].item() for p in layers), rel=1e-6)
    assert total["layer1_loss"].item() == pytest.approx(layers[1]["loss"].item(), rel=1e-6)
    with pytest.raises(DataError, match=r"same number"):
        multilayer_soch_loss_parts(outputs_a, outputs_b[:1])


def test_multilayer_rejects_bad_layers():
    with pytest.raises(DataError, match=r"at least one"):
        MultilayerSOCH(6, [])
    with pytest.raises(DataError, match=r"layers\[1\]"):
        MultilayerSOCH(6, [(5, 4), (3,)])
    with pytest.raises(DataError, match=r"n_clusters"):
        MultilayerSOCH(6, [(5, 4), (3, 1)])
    with pytest.raises(DataError, match=r"arrangement"):
        MultilayerSOCH(6, [(5, 4)], arrangement="tree")


# ----------------------------------------------------------------------------- loss values

SOFT = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1]], dtype=torch.float64)


def test_self_label_by_hand_own_argmax():
    # Own argmax: sample 0 -> cluster 0 (p = 0.7), sample 1 -> cluster 1 (p = 0.6).
    # -(ln 0.7 + ln 0.6) / 2 = (0.356675 + 0.510826) / 2 = 0.433750.
    expected = -(math.log(0.7) + math.log(0.6)) / 2
    parts = self_organizing_loss_parts(SOFT)
    assert parts["self_label"].item() == pytest.approx(expected, abs=1e-9)
    assert parts["self_label"].item() == pytest.approx(0.433750, abs=1e-6)
    assert parts["balance"].item() == 0.0


def test_self_label_by_hand_target_from_another_view():
    # Target scores put sample 0 in cluster 2 (p = 0.1) and sample 1 in cluster 0 (p = 0.3):
    # -(ln 0.1 + ln 0.3) / 2 = (2.302585 + 1.203973) / 2 = 1.753279.
    target = torch.tensor([[0.1, 0.2, 0.9], [5.0, -1.0, 0.0]], dtype=torch.float64)
    expected = -(math.log(0.1) + math.log(0.3)) / 2
    assert self_organizing_loss(SOFT, target).item() == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(1.753279, abs=1e-6)


def test_self_label_with_balance_by_hand():
    # Mean assignment P = (0.5, 0.4, 0.1); H(P) = -(0.5 ln 0.5 + 0.4 ln 0.4 + 0.1 ln 0.1)
    # = 0.346574 + 0.366516 + 0.230259 = 0.943348; log 3 - H = 1.098612 - 0.943348 = 0.155264.
    shares = (0.5, 0.4, 0.1)
    balance = math.log(3) + sum(p * math.log(p) for p in shares)
    assert balance == pytest.approx(0.155264, abs=1e-6)
    parts = self_organizing_loss_parts(SOFT, balance_weight=2.0)
    assert parts["balance"].item() == pytest.approx(2 * balance, abs=1e-9)
    total = self_organizing_loss(SOFT, balance_weight=2.0)
    assert total.item() == pytest.approx(parts["self_label"].item() + 2 * balance, abs=1e-9)


def test_balance_is_zero_for_uniform_and_log_k_for_collapsed():
    clusters = 5
    uniform = torch.full((8, clusters), 1 / clusters)
    collapsed = torch.zeros(8, clusters)
    collapsed[:, 2] = 1.0
    balance_uniform = self_organizing_loss_parts(uniform, balance_weight=1.0)["balance"]
    balance_collapsed = self_organizing_loss_parts(collapsed, balance_weight=1.0)["balance"]
    assert balance_uniform.item() == pytest.approx(0.0, abs=1e-6)
    assert balance_collapsed.item() == pytest.approx(math.log(clusters), abs=1e-6)


def test_half_inputs_give_a_float32_loss():
    loss = self_organizing_loss(SOFT.half(), balance_weight=1.0)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.433750 + 0.155264, abs=2e-3)


# ----------------------------------------------------------------------------- Sinkhorn


def test_sinkhorn_targets_balance_a_deliberately_imbalanced_batch():
    # 60 samples, 3 clusters: cluster 0 is 0.5 more similar to everyone, so the plain argmax
    # puts every sample there; each sample's own preference lives in the small noise.
    noise = 0.1 * torch.randn(60, 3, generator=_generator(11))
    similarities = noise + torch.tensor([0.5, 0.0, 0.0])
    plain_counts = torch.bincount(similarities.argmax(dim=1), minlength=3)
    assert plain_counts.tolist() == [60, 0, 0]
    targets = sinkhorn_targets(similarities)
    counts = torch.bincount(targets.argmax(dim=1), minlength=3)
    assert int(counts.min()) >= 14 and int(counts.max()) <= 26  # 20 each if perfectly even
    # The column bias is removed and most samples keep their preference among the noise (the
    # rest are moved to even out the noise's own imbalance, 18 / 16 / 26; 56/60 kept here).
    kept = (targets.argmax(dim=1) == noise.argmax(dim=1)).float().mean().item()
    assert kept >= 0.85


def test_sinkhorn_targets_are_one_hot_without_gradient():
    similarities = torch.randn(12, 4, generator=_generator(12), requires_grad=True)
    targets = sinkhorn_targets(similarities, n_iters=5, epsilon=0.1)
    assert targets.shape == (12, 4) and targets.dtype == similarities.dtype
    assert not targets.requires_grad and targets.grad_fn is None
    assert torch.equal(targets.sum(dim=1), torch.ones(12))
    assert set(targets.unique().tolist()) <= {0.0, 1.0}


def test_sinkhorn_targets_stay_finite_for_large_scores():
    # Squared distances in the thousands / epsilon would overflow exp(); the log domain does not.
    similarities = -1000 * torch.rand(20, 4, generator=_generator(13))
    targets = sinkhorn_targets(similarities, epsilon=0.01)
    assert bool(torch.isfinite(targets).all())
    assert torch.equal(targets.sum(dim=1), torch.ones(20))


# ----------------------------------------------------------------------------- soch_loss_parts


def test_soch_loss_parts_variants_by_hand():
    soft_a = SOFT
    soft_b = torch.tensor([[0.2, 0.1, 0.7], [0.5, 0.4, 0.1]], dtype=torch.float64)
    own_a = -(math.log(0.7) + math.log(0.6)) / 2  # a's own argmax: 0, 1
    own_b = -(math.log(0.7) + math.log(0.5)) / 2  # b's own argmax: 2, 0
    a_from_b = -(math.log(0.1) + math.log(0.3)) / 2  # a scored at b's labels 2, 0
    b_from_a = -(math.log(0.2) + math.log(0.4)) / 2  # b scored at a's labels 0, 1
    plain = soch_loss_parts(soft_a, soft_b, anti_collapse="none")
    assert plain["self_label"].item() == pytest.approx((own_a + own_b) / 2, abs=1e-9)
    assert plain["balance"].item() == 0.0
    cross = soch_loss_parts(soft_a, soft_b, anti_collapse="cross_view")
    assert cross["self_label"].item() == pytest.approx((a_from_b + b_from_a) / 2, abs=1e-9)
    both = soch_loss_parts(soft_a, soft_b, anti_collapse=("cross_view", "balance"))
    balance_a = self_organizing_loss_parts(soft_a, balance_weight=1.0)["balance"].item()
    balance_b = self_organizing_loss_parts(soft_b, balance_weight=1.0)["balance"].item()
    assert both["balance"].item() == pytest.approx((balance_a + balance_b) / 2, abs=1e-9)
    assert both["loss"].item() == pytest.approx(
        both["self_label"].item() + both["balance"].item(), abs=1e-12
    )


def test_soch_loss_parts_sinkhorn_uses_the_similarities():
    soft = torch.full((4, 2), 0.5)
    similarities = torch.tensor([[1.0, 0.0], [1.0, 0.2], [1.0, 0.4], [1.0, 0.6]])
    parts = soch_loss_parts(soft, soft, similarities, similarities, anti_collapse="sinkhorn")
    assert parts["self_label"].item() == pytest.approx(math.log(2), abs=1e-6)
    with pytest.raises(DataError, match=r"similarities_a and similarities_b are needed"):
        soch_loss_parts(soft, soft, anti_collapse="sinkhorn")
    with pytest.raises(DataError, match=r"similarities_a and soft_a must have the same shape"):
        soch_loss_parts(soft, soft, torch.zeros(4, 3), torch.zeros(4, 3), anti_collapse="sinkhorn")


def test_parse_anti_collapse():
    assert parse_anti_collapse("none") == frozenset()
    assert parse_anti_collapse("cross_view+sinkhorn") == {"cross_view", "sinkhorn"}
    assert parse_anti_collapse(["balance"]) == {"balance"}
    with pytest.raises(DataError, match=r"unknown choice.*'swap'"):
        parse_anti_collapse("cross_view+swap")
    with pytest.raises(DataError, match=r"anti_collapse must be a string"):
        parse_anti_collapse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: self_organizing_loss(SOFT, balance_weight=-1.0), "balance_weight"),
        (lambda: self_organizing_loss(SOFT, SOFT[:, :2]), "soft and target"),
        (lambda: self_organizing_loss(SOFT[0]), "soft must be 2-D"),
        (lambda: self_organizing_loss(SOFT, torch.zeros(2, 3, dtype=torch.long)), "target"),
        (
            lambda: self_organizing_loss(torch.full((2, 3), float("nan")), check_finite=True),
            "soft holds",
        ),
        (lambda: sinkhorn_targets(SOFT, n_iters=0), "n_iters"),
        (lambda: sinkhorn_targets(SOFT, epsilon=0.0), "epsilon"),
        (lambda: sinkhorn_targets(SOFT[:1]), "similarities needs a batch"),
        (lambda: soch_loss_parts(SOFT, SOFT[:, :2]), "soft_a and soft_b"),
        (lambda: soch_loss_parts(SOFT, SOFT, anti_collapse="balance", balance_weight=0.0), "> 0"),
    ],
)
def test_losses_reject_bad_inputs(call, message):
    with pytest.raises(DataError, match=message):
        call()


# ----------------------------------------------------------------------------- training


def _train_toy(
    anti_collapse: str, *, seed: int = 0, steps: int = 30
) -> tuple[list[float], list[int]]:
    """Features from 3 Gaussian blobs (20 points each, 8-D) through a trainable Linear layer
    into a cosine SOCH with K = 3; each step draws two noisy views of every point and takes an
    Adam step on `soch_loss_parts`. Returns the loss of every step and the cluster sizes of the
    clean points after training."""
    torch.manual_seed(seed)
    generator = _generator(seed)
    means = 3 * torch.randn(3, 8, generator=generator)
    blobs = means.repeat_interleave(20, dim=0) + torch.randn(60, 8, generator=generator)
    encoder = nn.Linear(8, 16)
    head = SelfOrganizingHead(16, 3)
    optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=0.05)
    losses = []
    for _ in range(steps):
        view_a = blobs + 0.3 * torch.randn(blobs.shape, generator=generator)
        view_b = blobs + 0.3 * torch.randn(blobs.shape, generator=generator)
        outputs_a = head.outputs(encoder(view_a))
        outputs_b = head.outputs(encoder(view_b))
        parts = soch_loss_parts(
            outputs_a.soft,
            outputs_b.soft,
            outputs_a.similarities,
            outputs_b.similarities,
            anti_collapse=anti_collapse,
        )
        optimiser.zero_grad()
        parts["loss"].backward()
        optimiser.step()
        losses.append(parts["loss"].item())
    with torch.no_grad():
        labels = head(encoder(blobs)).argmax(dim=1)
    return losses, torch.bincount(labels, minlength=3).tolist()


# What this toy problem showed over 20 seeds (30 steps, cosine; 200 steps gave the same):
# - "none" (plain self-labelling): the loss always falls to ~0 (every sample made confident in
#   its own argmax), but the clusters do not follow the blobs: 2/20 runs collapsed to a single
#   cluster, 15/20 merged two blobs (2 clusters used), 3/20 found all 3. Not asserted.
# - "cross_view" alone: the same counts (2 / 15 / 3): with views this close, the other view's
#   argmax is nearly the own one, so it barely fights collapse on its own.
# - "balance": all 3 clusters in 20/20 runs (blob accuracy 0.97); "sinkhorn": 20/20 (0.96);
#   "cross_view+balance": 20/20 (1.00), the default of soch_loss_parts. On real digits it
#   collapsed (see S3OCNet's docstring), so S3OCNet defaults to "cross_view+sinkhorn".
# With "neg_sq_distance" and the default orthonormal centres every variant did worse (the
# centres' scale does not match the features': set them from k-means with set_centres).
@pytest.mark.parametrize(
    ("anti_collapse", "minimum_clusters"),
    [
        ("cross_view", 2),
        ("balance", 3),
        ("sinkhorn", 3),
        ("cross_view+balance", 3),
        ("cross_view+sinkhorn", 3),
    ],
)
def test_each_anti_collapse_choice_trains_without_collapse(anti_collapse, minimum_clusters):
    losses, sizes = _train_toy(anti_collapse)
    assert losses[-1] < 0.5 * losses[0], losses
    used = sum(size > 0 for size in sizes)
    assert used >= minimum_clusters, sizes


def test_plain_self_labelling_loss_decreases():
    # Its clusters are not asserted (see the observations above): it merges blobs or collapses.
    losses, sizes = _train_toy("none")
    assert losses[-1] < 0.5 * losses[0], losses
    assert sum(sizes) == 60
