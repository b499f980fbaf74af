"""Metrics against hand-computed values, brute force and scikit-learn cross-checks."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from explore.errors import DataError
from explore.metrics import (
    ClusteringScores,
    ari,
    cluster_accuracy,
    evaluate,
    format_mean_std,
    kappa,
    match_clusters,
    matched_confusion_matrix,
    mean_std,
    nmi,
    per_class_accuracy,
    score_scene,
    summarize_runs,
)

# Hand-worked case. Contingency table (rows = classes, columns = cluster ids 5, 6, 7):
#
#             5   6   7   | total
#   class 0   3   0   1   |  4
#   class 1   0   1   2   |  3
#   class 2   1   2   0   |  3
#
# Of the 6 one-to-one assignments, 0->5, 1->7, 2->6 is best with 3 + 2 + 2 = 7 correct
# (next best 0->5, 1->6, 2->7 gives 4), so ACC = 7 / 10 = 0.7.
# Per class: 3/4, 2/3, 2/3.
# Kappa on the matched table (columns 5, 7, 6): p_o = 0.7, row sums (4, 3, 3), column sums
# (4, 3, 3), p_e = (16 + 9 + 9) / 100 = 0.34, kappa = (0.7 - 0.34) / (1 - 0.34) = 6 / 11.
HAND_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
HAND_PRED = [5, 5, 5, 7, 6, 7, 7, 5, 6, 6]


def test_hand_worked_table_is_what_the_comment_says() -> None:
    matrix, classes, clusters = matched_confusion_matrix(HAND_TRUE, HAND_PRED)
    assert classes == (0, 1, 2)
    assert clusters == (5, 7, 6)
    np.testing.assert_array_equal(matrix, [[3, 1, 0], [0, 2, 1], [1, 0, 2]])


def test_hand_worked_accuracy_mapping_and_per_class() -> None:
    assert match_clusters(HAND_TRUE, HAND_PRED) == {5: 0, 7: 1, 6: 2}
    assert cluster_accuracy(HAND_TRUE, HAND_PRED) == pytest.approx(0.7)
    per_class = per_class_accuracy(HAND_TRUE, HAND_PRED)
    assert per_class == pytest.approx({0: 0.75, 1: 2 / 3, 2: 2 / 3})


def test_hand_worked_kappa() -> None:
    assert kappa(HAND_TRUE, HAND_PRED) == pytest.approx(6 / 11)


def test_perfect_clustering_with_permuted_ids_scores_one() -> None:
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [2, 2, 0, 0, 1, 1, 1]
    scores = evaluate(y_true, y_pred)
    assert scores.acc == 1.0
    assert scores.nmi == pytest.approx(1.0)
    assert scores.ari == pytest.approx(1.0)
    assert scores.kappa == pytest.approx(1.0)
    assert scores.per_class == {0: 1.0, 1: 1.0, 2: 1.0}
    assert match_clusters(y_true, y_pred) == {2: 0, 0: 1, 1: 2}


def test_ari_by_hand() -> None:
    # y_true = [0,0,1,1], y_pred = [0,0,0,1]. Contingency: class 0 -> (2, 0), class 1 -> (1, 1).
    # sum C(n_ij, 2) = 1; rows: C(2,2) + C(2,2) = 2; columns: C(3,2) + C(1,2) = 3; C(4,2) = 6.
    # expected = 2 * 3 / 6 = 1, max = (2 + 3) / 2 = 2.5, ARI = (1 - 1) / (2.5 - 1) = 0.
    assert ari([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    # y_true = [0,0,0,1,1,1], y_pred = [0,0,1,1,2,2]: class 0 -> (2, 1, 0), class 1 -> (0, 1, 2).
    # sum C(n_ij, 2) = 1 + 1 = 2; rows: 3 + 3 = 6; columns: 1 + 1 + 1 = 3; C(6,2) = 15.
    # expected = 6 * 3 / 15 = 1.2, max = 4.5, ARI = 0.8 / 3.3 = 8 / 33.
    assert ari([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)


def test_nmi_by_hand() -> None:
    # y_true = [0,0,1,1], y_pred = [0,0,0,1]; joint p: (0,0)=1/2, (1,0)=1/4, (1,1)=1/4.
    # Marginals: true (1/2, 1/2), pred (3/4, 1/4).
    mutual = 0.5 * math.log(0.5 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.75))
    mutual += 0.25 * math.log(0.25 / (0.5 * 0.25))
    entropy_true = math.log(2)
    entropy_pred = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = mutual / ((entropy_true + entropy_pred) / 2)  # arithmetic normalisation
    assert expected == pytest.approx(0.3437, abs=1e-4)
    assert nmi([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(expected)


def test_more_clusters_than_classes() -> None:
    # 3 classes, 4 clusters: cluster 3 holds one sample of class 0 and matches no class.
    y_true = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 3, 1, 1, 1, 2, 2, 2]
    assert match_clusters(y_true, y_pred) == {0: 0, 1: 1, 2: 2, 3: None}
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(8 / 9)
    assert per_class_accuracy(y_true, y_pred) == pytest.approx({0: 2 / 3, 1: 1.0, 2: 1.0})
    matrix, classes, clusters = matched_confusion_matrix(y_true, y_pred)
    assert clusters == (0, 1, 2, 3)
    assert matrix.shape == (3, 4)
    np.testing.assert_array_equal(matrix[:, 3], [1, 0, 0])
    # Unmatched predictions as one "no class" category (-1) give sklearn's kappa.
    mapped = [0, 0, -1, 1, 1, 1, 2, 2, 2]
    assert kappa(y_true, y_pred) == pytest.approx(cohen_kappa_score(y_true, mapped))
    scores = evaluate(y_true, y_pred)
    assert (scores.n_clusters, scores.n_classes, scores.n_scored) == (4, 3, 9)


def test_fewer_clusters_than_classes() -> None:
    # 3 classes, 2 clusters: cluster 1 holds 3 of class 1 and 2 of class 2 -> class 1;
    # class 2 gets no cluster, so ACC = (2 + 3) / 7.
    y_true = [0, 0, 1, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 1, 1, 1, 1]
    assert match_clusters(y_true, y_pred) == {0: 0, 1: 1}
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 7)
    assert per_class_accuracy(y_true, y_pred) == {0: 1.0, 1: 1.0, 2: 0.0}
    matrix, classes, clusters = matched_confusion_matrix(y_true, y_pred)
    assert clusters == (0, 1, None)
    np.testing.assert_array_equal(matrix, [[2, 0, 0], [0, 3, 0], [0, 2, 0]])
    assert kappa(y_true, y_pred) == pytest.approx(cohen_kappa_score(y_true, y_pred))


def test_accuracy_matches_brute_force_and_kappa_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        n_classes, n_clusters = rng.integers(1, 5, size=2)
        y_true = rng.integers(0, n_classes, size=25)
        y_pred = rng.integers(10, 10 + n_clusters, size=25)
        classes, clusters = np.unique(y_true), np.unique(y_pred)
        size = max(classes.size, clusters.size)
        padded_classes = list(classes) + [None] * (size - classes.size)
        best = max(
            sum(
                np.sum((y_true == class_value) & (y_pred == cluster))
                for class_value, cluster in zip(order, clusters, strict=False)
                if class_value is not None
            )
            for order in itertools.permutations(padded_classes)
        )
        assert cluster_accuracy(y_true, y_pred) == pytest.approx(best / 25)
        mapping = match_clusters(y_true, y_pred)
        mapped = [-1 if mapping[cluster] is None else mapping[cluster] for cluster in y_pred]
        expected = cohen_kappa_score(y_true, mapped)
        if np.isnan(expected):  # one class, all matched: sklearn gives NaN, we define 1
            assert kappa(y_true, y_pred) == 1.0
        else:
            assert kappa(y_true, y_pred) == pytest.approx(expected)


def test_ignore_label_drops_samples() -> None:
    y_true = np.array([0, 1, 1, 0, 2, 2, 0])
    y_pred = np.array([9, 4, 4, 4, 5, 5, 5])
    scores = evaluate(y_true, y_pred, ignore_label=0)
    assert scores.n_scored == 4
    assert scores.acc == 1.0
    assert scores.n_clusters == 2
    assert evaluate(y_true, y_pred).acc < 1.0
    with pytest.raises(DataError, match="ignore_label=7"):
        evaluate([7, 7], [0, 1], ignore_label=7)


def test_score_scene_uses_labelled_pixels_only() -> None:
    labels = np.array([[0, 1, 1], [2, 2, 0]], dtype=np.uint8)
    predicted = np.array([[3, 0, 0], [1, 1, 3]])
    scores = score_scene(labels, predicted)
    assert scores.acc == 1.0 and scores.n_scored == 4 and scores.n_classes == 2
    changed = predicted.copy()
    changed[labels == 0] = 0  # predictions on unlabelled pixels must not matter
    assert score_scene(labels, changed) == scores


def test_score_scene_errors() -> None:
    labels = np.array([[1, 2], [0, 1]])
    with pytest.raises(DataError, match="predicted_map has shape"):
        score_scene(labels, np.zeros((2, 3), dtype=int))
    with pytest.raises(DataError, match="no labelled pixel"):
        score_scene(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))
    with pytest.raises(DataError, match="predicted_map"):
        score_scene(labels, np.full((2, 2), np.nan))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1, 1], [0, 1], "same length"),
        ([], [], "y_true is empty"),
        ([0, 1], [0.5, 1.0], "y_pred must hold integer labels"),
        ([0.0, np.nan], [0, 1], "y_true holds 1 NaN"),
        (["a", "b"], [0, 1], "y_true must hold integer labels"),
        ([[0, 1]], [[0, 1]], "y_true must be a 1-D"),
    ],
)
def test_invalid_labels_raise_naming_the_argument(y_true, y_pred, message) -> None:
    with pytest.raises(DataError, match=message):
        evaluate(y_true, y_pred)


def test_whole_float_labels_are_accepted() -> None:
    assert cluster_accuracy([0.0, 1.0, 1.0], [1, 0, 0]) == 1.0


def test_as_dict_is_json_ready() -> None:
    scores = evaluate(HAND_TRUE, HAND_PRED)
    assert isinstance(scores, ClusteringScores)
    plain = scores.as_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert plain["acc"] == pytest.approx(0.7)
    assert plain["per_class"]["0"] == pytest.approx(0.75)
    assert type(plain["n_scored"]) is int and type(plain["acc"]) is float


def test_mean_std_uses_sample_std() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))  # var = (1 + 0 + 1) / 2
    assert mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(DataError, match="non-empty"):
        mean_std([])
    with pytest.raises(DataError, match="non-finite"):
        mean_std([1.0, float("nan")])


def test_summarize_runs_and_format() -> None:
    runs = [
        evaluate([0, 0, 1, 1], [0, 0, 1, 1]).as_dict(),
        evaluate([0, 0, 1, 1], [0, 0, 0, 1]).as_dict(),
    ]
    summary = summarize_runs(runs)
    assert summary["acc"] == pytest.approx((0.875, math.sqrt(0.03125)))
    assert summary["n_scored"] == (4.0, 0.0)
    assert summary["per_class.1"] == pytest.approx((0.75, math.sqrt(0.125)))
    assert format_mean_std(*summary["acc"]) == "0.875 ± 0.177"
    assert format_mean_std(0.8123, 0.0131) == "0.812 ± 0.013"
    assert format_mean_std(0.8123, 0.0131, digits=1) == "0.8 ± 0.0"
    with pytest.raises(DataError, match=r"runs\[1\]"):
        summarize_runs([{"acc": 0.5}, {"nmi": 0.5}])
    with pytest.raises(DataError, match="runs is empty"):
        summarize_runs([])


def test_scenes_and_image_sets_share_one_label_convention() -> None:
    """A scene stores 0 = unlabelled and classes 1..C, an image set -1 and 0..C-1; both give
    their items' classes as 0..C-1 with -1 unlabelled (`item_classes`), so the same clustering
    of the same items scores the same, per-class keys included."""
    from explore.data.image_set import ImageSet
    from explore.data.scene import Scene
    from explore.metrics import score_dataset

    scene_labels = np.array([[0, 1, 1], [2, 2, 0]])
    scene = Scene(np.random.default_rng(0).random((2, 3, 4)).astype(np.float32), scene_labels)
    images = ImageSet(
        np.zeros((6, 1, 2, 2), dtype=np.float32),
        np.array([-1, 0, 0, 1, 1, -1]),
        class_names=("a", "b"),
    )
    assert scene.n_items == images.n_items == 6
    assert scene.item_classes().tolist() == images.item_classes().tolist() == [-1, 0, 0, 1, 1, -1]
    assert scene.item_classes(np.array([4, 1])).tolist() == [1, 0]
    predicted = np.array([5, 0, 0, 1, 0, 5])
    from_scene = score_dataset(scene, predicted.reshape(2, 3))
    from_images = score_dataset(images, predicted)
    assert from_scene == from_images
    assert set(from_scene.per_class) == {0, 1}
    with pytest.raises(DataError, match="shape"):
        score_dataset(scene, predicted.reshape(3, 2))
    unlabelled = Scene(scene.cube, np.zeros((2, 3), dtype=int))
    assert score_dataset(unlabelled, predicted.reshape(2, 3)) is None
    assert unlabelled.item_classes().tolist() == [-1] * 6
