"""Clustering metrics: Hungarian matching of clusters to classes, ACC, NMI, ARI, Cohen's kappa,
per-class accuracy, the matched confusion matrix, scene scoring on labelled pixels, and
mean ± std summaries over seeds.

Matching is done on a *square* contingency matrix of size max(#classes, #clusters), so the number
of clusters K may differ from the number of classes: when K > classes the extra clusters match no
class (`match_clusters` maps them to `None`) and every sample in them counts as an error; when
K < classes some classes get no cluster and all their samples are errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from explore.errors import DataError

if TYPE_CHECKING:
    from explore.data.images import ImageSet
    from explore.data.scene import Scene

__all__ = [
    "ClusteringScores",
    "ari",
    "cluster_accuracy",
    "evaluate",
    "format_mean_std",
    "kappa",
    "match_clusters",
    "matched_confusion_matrix",
    "mean_std",
    "merge_clusters",
    "merge_lookup",
    "nmi",
    "per_class_accuracy",
    "score_scene",
    "summarize_runs",
]


# ---------------------------------------------------------------------------------- validation
def _as_labels(values: object, name: str) -> np.ndarray:
    """`values` as a 1-D int64 array; DataError naming `name` when it is not one."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of labels; got shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{name} is empty: there is nothing to score")
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{name} must hold integer labels; got dtype {array.dtype}")
    if np.isnan(array).any():
        raise DataError(f"{name} holds {int(np.isnan(array).sum())} NaN values")
    if not np.isfinite(array).all():
        raise DataError(f"{name} holds infinite values")
    if not np.all(array == np.round(array)):
        raise DataError(f"{name} must hold integer labels; got fractional values")
    return array.astype(np.int64)


def _as_label_pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    truth = _as_labels(y_true, "y_true")
    predicted = _as_labels(y_pred, "y_pred")
    if truth.shape != predicted.shape:
        raise DataError(
            f"y_true and y_pred must have the same length; got {truth.size} and {predicted.size}"
        )
    return truth, predicted


# ---------------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class _Matching:
    """The square contingency matrix and the Hungarian assignment on it.

    `table[i, j]` counts samples of class `classes[i]` in cluster `clusters[j]`; the table is
    padded with zero rows/columns to size max(C, K). `cluster_of_class[i]` is the column matched
    to row i (>= K means a padding column: class i got no cluster).
    """

    classes: np.ndarray  # (C,)
    clusters: np.ndarray  # (K,)
    table: np.ndarray  # (N, N), N = max(C, K)
    cluster_of_class: np.ndarray  # (N,)

    @property
    def n_samples(self) -> int:
        return int(self.table.sum())

    @property
    def n_correct(self) -> int:
        rows = np.arange(self.table.shape[0])
        return int(self.table[rows, self.cluster_of_class].sum())


def _match(truth: np.ndarray, predicted: np.ndarray) -> _Matching:
    classes, class_index = np.unique(truth, return_inverse=True)
    clusters, cluster_index = np.unique(predicted, return_inverse=True)
    size = max(classes.size, clusters.size)
    table = np.zeros((size, size), dtype=np.int64)
    np.add.at(table, (class_index, cluster_index), 1)
    rows, columns = linear_sum_assignment(table, maximize=True)
    cluster_of_class = np.empty(size, dtype=np.int64)
    cluster_of_class[rows] = columns
    return _Matching(classes, clusters, table, cluster_of_class)


def _mapping(matching: _Matching) -> dict[int, int | None]:
    n_classes, n_clusters = matching.classes.size, matching.clusters.size
    mapping: dict[int, int | None] = {int(cluster): None for cluster in matching.clusters}
    for row, column in enumerate(matching.cluster_of_class):
        if row < n_classes and column < n_clusters:
            mapping[int(matching.clusters[column])] = int(matching.classes[row])
    return mapping


def match_clusters(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> dict[int, int | None]:
    """Map each predicted cluster id to the class it is matched with (Hungarian algorithm,
    maximising correctly assigned samples on the square contingency matrix).

    y_true, y_pred: (n,) integer labels. Clusters left over when there are more clusters than
    classes map to `None` (no class): their samples count as errors in every matched metric.
    """
    return _mapping(_match(*_as_label_pair(y_true, y_pred)))


def _kappa_from(matching: _Matching) -> float:
    """Cohen's kappa of the classes against the matched predictions.

    Unmatched clusters act as a prediction category of their own ("no class"): they add to the
    disagreement but not to the chance agreement (no class row holds their label).
    """
    table = matching.table[:, matching.cluster_of_class]  # matched cluster of class i in column i
    total = table.sum()
    observed = np.trace(table) / total
    chance = float(table.sum(axis=1) @ table.sum(axis=0)) / total**2
    if chance >= 1.0:  # one class, all predicted as its cluster: perfect and trivial agreement
        return 1.0
    return float((observed - chance) / (1.0 - chance))


def _per_class_from(matching: _Matching) -> dict[int, float]:
    rows = np.arange(matching.classes.size)
    correct = matching.table[rows, matching.cluster_of_class[rows]]
    support = matching.table[rows].sum(axis=1)
    return {
        int(value): float(correct[row] / support[row]) for row, value in enumerate(matching.classes)
    }


# ---------------------------------------------------------------------------------- metrics
def cluster_accuracy(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> float:
    """ACC: the fraction of samples whose cluster is matched to their class, in [0, 1]."""
    matching = _match(*_as_label_pair(y_true, y_pred))
    return matching.n_correct / matching.n_samples


def nmi(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean of the two entropies), in [0, 1]."""
    truth, predicted = _as_label_pair(y_true, y_pred)
    return float(normalized_mutual_info_score(truth, predicted, average_method="arithmetic"))


def ari(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index: 1 for identical partitions, about 0 for random ones."""
    truth, predicted = _as_label_pair(y_true, y_pred)
    return float(adjusted_rand_score(truth, predicted))


def kappa(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Cohen's kappa between the classes and the predictions after Hungarian matching
    (unmatched clusters form one extra "no class" category)."""
    return _kappa_from(_match(*_as_label_pair(y_true, y_pred)))


def per_class_accuracy(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> dict[int, float]:
    """For each class value, the fraction of its samples in the cluster matched to it
    (0.0 for a class that got no cluster)."""
    return _per_class_from(_match(*_as_label_pair(y_true, y_pred)))


def matched_confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, tuple[int, ...], tuple[int | None, ...]]:
    """The confusion matrix with each class's matched cluster on the diagonal.

    Returns `(matrix, class_values, cluster_order)`: `matrix` is (C, max(C, K)) int64, row i
    counts the samples of class `class_values[i]` (sorted) per cluster, column j is cluster
    `cluster_order[j]`. Column i (i < C) holds the cluster matched to class i, or is all zeros
    with `cluster_order[i] = None` when that class got no cluster (K < C); the unmatched clusters
    (K > C) follow in increasing id order.
    """
    matching = _match(*_as_label_pair(y_true, y_pred))
    n_classes, n_clusters = matching.classes.size, matching.clusters.size
    matched_columns = matching.cluster_of_class[:n_classes]
    spare = sorted(set(range(n_clusters)) - set(matched_columns.tolist()))
    columns = np.concatenate([matched_columns, np.asarray(spare, dtype=np.int64)])
    matrix = matching.table[:n_classes][:, columns]
    cluster_order = tuple(
        int(matching.clusters[column]) if column < n_clusters else None for column in columns
    )
    class_values = tuple(int(value) for value in matching.classes)
    return matrix, class_values, cluster_order


# ---------------------------------------------------------------------------------- bundles
@dataclass(frozen=True)
class ClusteringScores:
    """Every metric of one clustering against ground truth.

    `n_clusters` counts the distinct predicted labels among the scored samples; `per_class`
    maps class value -> per-class accuracy (runs of the library score every dataset in one
    convention, `item_classes`: class index 0..C-1, named by the dataset's `class_names[c]`).
    """

    acc: float
    nmi: float
    ari: float
    kappa: float
    n_clusters: int
    n_classes: int
    n_scored: int
    per_class: dict[int, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | int | dict[str, float]]:
        """Plain Python floats and ints, ready for `json.dumps`; `per_class` keys become strings
        so that a JSON round trip gives back an equal dict."""
        return {
            "acc": float(self.acc),
            "nmi": float(self.nmi),
            "ari": float(self.ari),
            "kappa": float(self.kappa),
            "n_clusters": int(self.n_clusters),
            "n_classes": int(self.n_classes),
            "n_scored": int(self.n_scored),
            "per_class": {str(key): float(value) for key, value in self.per_class.items()},
        }


def evaluate(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    *,
    ignore_label: int | None = None,
) -> ClusteringScores:
    """Score predictions y_pred (n,) against classes y_true (n,).

    Samples whose class equals `ignore_label` are dropped before scoring (e.g. 0 = unlabelled).
    """
    truth, predicted = _as_label_pair(y_true, y_pred)
    if ignore_label is not None:
        keep = truth != int(ignore_label)
        if not keep.any():
            raise DataError(
                f"every sample of y_true has ignore_label={ignore_label}: nothing left to score"
            )
        truth, predicted = truth[keep], predicted[keep]
    matching = _match(truth, predicted)
    return ClusteringScores(
        acc=matching.n_correct / matching.n_samples,
        nmi=float(normalized_mutual_info_score(truth, predicted, average_method="arithmetic")),
        ari=float(adjusted_rand_score(truth, predicted)),
        kappa=_kappa_from(matching),
        n_clusters=int(matching.clusters.size),
        n_classes=int(matching.classes.size),
        n_scored=int(truth.size),
        per_class=_per_class_from(matching),
    )


def score_scene(labels_map: np.ndarray, predicted_map: np.ndarray) -> ClusteringScores:
    """Score a cluster map (H, W) against a scene's labels (H, W) on labelled pixels only
    (label 0 = unlabelled is ignored)."""
    labels_map = np.asarray(labels_map)
    predicted_map = np.asarray(predicted_map)
    if labels_map.ndim != 2:
        raise DataError(f"labels_map must be a (H, W) map; got shape {labels_map.shape}")
    if predicted_map.shape != labels_map.shape:
        raise DataError(
            f"predicted_map has shape {predicted_map.shape} but labels_map has "
            f"{labels_map.shape}; they must match"
        )
    truth = _as_labels(labels_map.ravel(), "labels_map")
    if not (truth != 0).any():
        raise DataError("labels_map has no labelled pixel (all 0): nothing to score")
    predicted = _as_labels(predicted_map.ravel(), "predicted_map")
    # the datasets' one convention (`item_classes`): class c of the map is 0..C-1, -1 unlabelled
    return evaluate(truth - 1, predicted, ignore_label=-1)


def score_dataset(
    data: Scene | ImageSet, predicted: np.ndarray, indices: np.ndarray | None = None
) -> ClusteringScores | None:
    """Scores of a clustering of a whole dataset on its labelled items only (`predicted`: one
    cluster per item, an (H, W) map for a scene or (n,) for an image set). Every dataset gives
    its classes in one convention (`item_classes`: 0..C-1, -1 unlabelled). None when nothing
    is labelled. With `indices`, `predicted` (n,) holds the clusters of those items only (an
    evaluation sample). The one place runs are scored."""
    classes = data.item_classes(indices)
    if not (classes >= 0).any():
        return None
    predicted = np.asarray(predicted)
    map_shape = getattr(data, "shape", (None, None))[:2]  # a scene's (H, W)
    if predicted.ndim == 2 and map_shape[0] is not None and predicted.shape != map_shape:
        raise DataError(
            f"predicted_map has shape {predicted.shape} but the scene is {map_shape}; "
            "they must match"
        )
    if predicted.size != classes.size:
        raise DataError(
            f"predicted has {predicted.size} items (shape {predicted.shape}) but the dataset "
            f"has {classes.size}; they must match"
        )
    return evaluate(classes, predicted.ravel(), ignore_label=-1)


# ---------------------------------------------------------------------------------- merging
def merge_lookup(n_clusters: int, groups: Iterable[Iterable[int]]) -> np.ndarray:
    """The relabelling that merges each group of clusters (ids 0..n_clusters-1) into one: an
    (n_clusters,) array taking old id to new id. New ids are contiguous 0..K'-1 in the order of
    each resulting cluster's smallest old id, so clusters before the first merged one keep their
    numbers. DataError for a group of fewer than two clusters, an id outside the run, or a
    cluster in two groups. A relabelling only: what a model predicts is never changed."""
    n_clusters = int(n_clusters)
    parent = np.arange(n_clusters)
    seen: set[int] = set()
    for group in groups:
        members = sorted({int(k) for k in group})
        if len(members) < 2:
            raise DataError(f"merging needs at least two clusters; got {members}")
        outside = [k for k in members if not 0 <= k < n_clusters]
        if outside:
            raise DataError(
                f"clusters {outside} are not in the run (its clusters are 0..{n_clusters - 1})"
            )
        twice = sorted(seen.intersection(members))
        if twice:
            raise DataError(f"clusters {twice} are in two merge groups")
        seen.update(members)
        parent[members] = members[0]
    roots = np.unique(parent)  # sorted: each root is its group's smallest id
    return np.searchsorted(roots, parent).astype(np.int64)


def merge_clusters(
    labels: np.ndarray, groups: Iterable[Iterable[int]], n_clusters: int | None = None
) -> np.ndarray:
    """`labels` (any shape, ids 0..K-1) with each group of clusters merged into one
    (`merge_lookup`; K = `n_clusters`, default the largest id + 1)."""
    labels = np.asarray(labels)
    if n_clusters is None:
        n_clusters = int(labels.max()) + 1 if labels.size else 0
    return merge_lookup(n_clusters, groups)[labels]


# ---------------------------------------------------------------------------------- over seeds
def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of run results; std is 0.0 for one run.

    The sample std is used because a handful of seeds estimates the spread of the method, not
    the spread of those seeds alone.
    """
    array = np.asarray(list(values), dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise DataError(f"values must be a non-empty list of numbers; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(f"values hold non-finite numbers: {array.tolist()}")
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), std


def _flatten(run: Mapping[str, object], prefix: str = "") -> dict[str, float]:
    """Numeric entries of a run dict; nested dicts become `outer.inner` keys."""
    flat: dict[str, float] = {}
    for key, value in run.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, prefix=f"{name}."))
        elif isinstance(value, Real) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def summarize_runs(runs: Sequence[Mapping[str, object]]) -> dict[str, tuple[float, float]]:
    """Mean and sample std (see `mean_std`) of every numeric entry over runs, e.g. over seeds.

    runs: one dict per run, such as `ClusteringScores.as_dict()`; nested dicts are flattened to
    `outer.inner` keys and non-numeric entries are skipped. Every run must hold the same numeric
    keys, so that no mean silently covers fewer runs than the others.
    """
    if not runs:
        raise DataError("runs is empty: there is nothing to summarise")
    flat_runs = [_flatten(run) for run in runs]
    keys = list(flat_runs[0])
    for index, flat in enumerate(flat_runs[1:], start=1):
        if set(flat) != set(keys):
            differing = sorted(set(flat) ^ set(keys))
            raise DataError(f"runs[{index}] has different numeric keys from runs[0]: {differing}")
    return {key: mean_std(flat[key] for flat in flat_runs) for key in keys}


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """`"0.812 ± 0.013"`: a mean and std rounded to `digits` decimals."""
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DataError(f"mean and std must be finite; got {mean} and {std}")
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
