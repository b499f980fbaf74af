"""SCAN's pieces: the neighbour-consistency loss and the self-labelling targets against
hand-computed values, neighbour mining against a brute-force search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explore.errors import DataError
from explore.losses import confident_targets, scan_loss_parts, self_labelling_loss
from explore.training.neighbours import NeighbourTable, mine_neighbours, neighbour_agreement


def test_scan_loss_by_hand() -> None:
    anchors = torch.tensor([[0.8, 0.2], [0.1, 0.9]], dtype=torch.float64)
    neighbours = torch.tensor([[0.6, 0.4], [0.3, 0.7]], dtype=torch.float64)
    parts = scan_loss_parts(anchors, neighbours, entropy_weight=2.0)
    # dot products: 0.8*0.6 + 0.2*0.4 = 0.56 ; 0.1*0.3 + 0.9*0.7 = 0.66
    consistency = -(math.log(0.56) + math.log(0.66)) / 2
    mean = [0.45, 0.55]
    entropy = -sum(p * math.log(p) for p in mean)
    assert parts["consistency"].item() == pytest.approx(consistency)
    assert parts["entropy"].item() == pytest.approx(-2.0 * entropy)
    assert parts["loss"].item() == pytest.approx(consistency - 2.0 * entropy)


def test_scan_loss_prefers_agreeing_confident_and_spread_assignments() -> None:
    same = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    other = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert scan_loss_parts(same, same)["consistency"].item() == pytest.approx(0.0)
    assert scan_loss_parts(same, other)["consistency"].item() > 20  # log of the 1e-12 floor
    collapsed = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    spread = scan_loss_parts(same, same)["loss"].item()
    assert scan_loss_parts(collapsed, collapsed)["loss"].item() > spread


def test_scan_loss_gradient_and_half_inputs() -> None:
    logits = torch.randn(8, 3, requires_grad=True)
    neighbours = torch.softmax(torch.randn(8, 3), dim=1)
    loss = scan_loss_parts(torch.softmax(logits, dim=1).half(), neighbours.half())["loss"]
    assert loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    with pytest.raises(DataError, match="entropy_weight"):
        scan_loss_parts(neighbours, neighbours, entropy_weight=-1.0)
    with pytest.raises(DataError, match="same shape"):
        scan_loss_parts(neighbours, neighbours[:, :2])


def test_confident_targets_by_hand() -> None:
    probabilities = torch.tensor([[0.995, 0.005], [0.6, 0.4], [0.001, 0.999], [0.5, 0.5]])
    indices, clusters = confident_targets(probabilities, threshold=0.99)
    assert indices.tolist() == [0, 2] and clusters.tolist() == [0, 1]
    indices, _ = confident_targets(probabilities, threshold=0.55)
    assert indices.tolist() == [0, 1, 2]
    with pytest.raises(DataError, match="threshold"):
        confident_targets(probabilities, threshold=1.0)


def test_self_labelling_loss_is_class_balanced_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
    targets = torch.tensor([0, 0, 1])
    loss = self_labelling_loss(logits, targets).item()
    # weights: cluster 0 holds 2 targets, cluster 1 one: w0 = 3 / (2 * 2), w1 = 3 / (1 * 2)
    w0, w1 = 0.75, 1.5
    nll = [
        -math.log(math.exp(2) / (math.exp(2) + 1)),
        -math.log(math.exp(1) / (math.exp(1) + 1)),
        -math.log(math.exp(3) / (math.exp(3) + 1)),
    ]
    expected = (w0 * nll[0] + w0 * nll[1] + w1 * nll[2]) / (w0 + w0 + w1)
    assert loss == pytest.approx(expected)
    empty = self_labelling_loss(logits[:0], targets[:0])  # no confident sample yet
    assert empty.item() == 0.0


def test_mined_neighbours_equal_a_brute_force_search() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 7)).astype(np.float32)
    mined = mine_neighbours(torch.from_numpy(features), 5, chunk_size=64).numpy()
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    expected = np.argsort(-similarity, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(mined, expected)
    assert (mined != np.arange(300)[:, None]).all()


def test_neighbour_agreement_and_bad_input() -> None:
    neighbours = torch.tensor([[1], [0], [3], [0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert neighbour_agreement(neighbours, labels) == pytest.approx(0.75)
    features = torch.randn(4, 3)
    with pytest.raises(DataError, match=r"k must be an integer in \[1, 3\]"):
        mine_neighbours(features, 4)
    with pytest.raises(DataError, match="NaN"):
        mine_neighbours(torch.tensor([[0.0, float("nan")], [1.0, 0.0]]), 1)
    with pytest.raises(DataError, match=r"\(N, d\)"):
        mine_neighbours(torch.randn(5), 1)


# ----------------------------------------------------------------------------- the stage


def test_neighbour_table_draws_each_items_own_neighbours() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(40, 5, generator=generator)
    items = torch.randperm(60, generator=generator)[:40]  # unordered, not 0..n-1
    table = NeighbourTable.mine(items, features, k=4)
    assert torch.equal(table.items, items.sort().values)
    brute = mine_neighbours(features, 4)
    for row, item in enumerate(items.tolist()):
        expected = set(items[brute[row]].tolist())
        assert set(table.neighbours[table.items.tolist().index(item)].tolist()) == expected
    batch = items[:10]
    partners = table.partners(batch, generator)
    for item, partner in zip(batch.tolist(), partners.tolist(), strict=True):
        assert partner in set(table.neighbours[table.items.tolist().index(item)].tolist())
    restored = NeighbourTable.from_state_dict(table.state_dict())
    assert torch.equal(restored.items, table.items)
    assert torch.equal(restored.neighbours, table.neighbours)
    assert NeighbourTable.mine(items[:3], features[:3], k=20).neighbours.shape == (3, 2)


def test_neighbour_table_refuses_items_it_does_not_hold() -> None:
    table = NeighbourTable.mine(torch.arange(10), torch.randn(10, 3), k=2)
    with pytest.raises(DataError, match="not mined over"):
        table.partners(torch.tensor([3, 11]), torch.Generator())
    with pytest.raises(DataError, match="increasing"):
        NeighbourTable(torch.tensor([2, 1]), torch.zeros((2, 1)))


def _digits(count: int = 300):
    from explore.data.registry import load_images

    images = load_images("digits", download=False)
    return images.subset(np.arange(count))


STAGE = {"epochs": 3, "scan_epochs": 1, "batch_size": 64, "device": "cpu", "seed": 1}


@pytest.mark.parametrize("method", ["cc", "sacc", "s3ocnet"])
def test_the_last_epochs_train_by_neighbour_consistency(method: str) -> None:
    from explore.methods import get_method_class

    images = _digits()
    model = get_method_class(method)(n_clusters=10, **STAGE).fit(images)
    records = model.history_.records
    assert "consistency" not in records[1].losses
    assert set(records[2].losses) == {"consistency", "entropy", "loss"}
    table = model.neighbour_table_
    assert table.neighbours.shape == (images.n_images, model.SCAN_NEIGHBOURS)
    assert model.labels_.shape == (images.n_images,)


def test_a_run_resumed_inside_the_stage_continues_exactly(tmp_path, one_thread) -> None:
    from explore.methods.sacc import SACC
    from explore.training.checkpoint import load_checkpoint

    images = _digits()
    settings = {**STAGE, "epochs": 4, "scan_epochs": 2}
    straight = SACC(n_clusters=10, **settings).fit(images)
    checkpoint = tmp_path / "checkpoint.pt"
    stopped = SACC(n_clusters=10, **settings).make_trainer(images, checkpoint_path=checkpoint)
    for _ in range(3):  # the run stops after the first epoch of the stage
        stopped.run_epoch()
    saved = load_checkpoint(checkpoint)
    assert saved["epoch"] == 3 and "neighbour_table" in saved["extra"]
    resumed = SACC(n_clusters=10, **settings).fit(images, checkpoint_path=checkpoint, resume=True)
    assert [r.epoch for r in resumed.history_] == [1, 2, 3, 4]
    assert resumed.history_.records[-1].losses == pytest.approx(
        straight.history_.records[-1].losses, rel=1e-6
    )
    assert np.array_equal(resumed.labels_, straight.labels_)


def test_the_stage_keeps_a_first_epoch_of_the_methods_own_loss() -> None:
    from explore.methods.cc import CC

    model = CC(n_clusters=10, **{**STAGE, "epochs": 2, "scan_epochs": 5}).fit(_digits())
    assert "instance" in model.history_.records[0].losses
    assert "consistency" in model.history_.records[1].losses


@pytest.mark.parametrize(
    ("option", "message"),
    [({"scan_epochs": -1}, "scan_epochs"), ({"scan_entropy_weight": -2.0}, "entropy_weight")],
)
def test_bad_stage_settings_are_named(option: dict, message: str) -> None:
    from explore.methods.cc import CC

    with pytest.raises(DataError, match=message):
        CC(n_clusters=10, **{**STAGE, **option}).fit(_digits(100))
