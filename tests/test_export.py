"""Merging clusters (a relabelling) and a run's exports as bytes: PNG, .npy, GeoTIFF, JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from explore.data.lazy import geotiff_bytes, is_georeferenced
from explore.data.scene import Georeference, Scene
from explore.errors import DataError, FileFormatError
from explore.export import (
    export_filename,
    labels_npy_bytes,
    map_png_bytes,
    png_scale,
    run_json_bytes,
)
from explore.metrics import merge_clusters, merge_lookup
from explore.runs import Run
from explore.training.history import EpochRecord, RunHistory

PALETTE = ["#ff0000", "#00ff00", "#0000ff", "#123456"]


# ---------------------------------------------------------------------------- merging
def test_merge_lookup_merges_each_group_into_its_smallest_cluster_and_renumbers() -> None:
    lookup = merge_lookup(6, [[4, 1]])
    assert lookup.tolist() == [0, 1, 2, 3, 1, 4]  # 4 joins 1; 5 becomes 4
    assert merge_lookup(5, [[0, 4], [2, 3]]).tolist() == [0, 1, 2, 2, 0]
    assert merge_lookup(3, []).tolist() == [0, 1, 2]


def test_merge_clusters_relabels_any_shape_and_keeps_the_input() -> None:
    labels = np.array([[0, 1, 2], [3, 2, 1]])
    merged = merge_clusters(labels, [[1, 3]])
    assert merged.tolist() == [[0, 1, 2], [1, 2, 1]]
    assert labels.tolist() == [[0, 1, 2], [3, 2, 1]]  # a new array: the input is unchanged
    assert merge_clusters(np.array([0, 1, 2]), [[0, 1, 2]]).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[2]], "at least two clusters"),
        ([[2, 2]], "at least two clusters"),
        ([[1, 7]], "not in the run"),
        ([[-1, 0]], "not in the run"),
        ([[0, 1], [1, 2]], "in two merge groups"),
    ],
)
def test_bad_merges_are_refused_with_a_reason(groups, message) -> None:
    with pytest.raises(DataError, match=message):
        merge_lookup(4, groups)


# ---------------------------------------------------------------------------- files
def test_map_png_decodes_to_the_map_size_and_colours() -> None:
    from PIL import Image

    labels = np.array([[0, 1, 2], [3, 0, 1]])
    image = Image.open(io.BytesIO(map_png_bytes(labels, PALETTE, scale=4)))
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (3 * 4, 2 * 4)  # (width, height): the scene's aspect
    pixels = np.asarray(image)
    for row in range(2):
        for col in range(3):
            colour = PALETTE[labels[row, col]].lstrip("#")
            expected = [int(colour[i : i + 2], 16) for i in (0, 2, 4)]
            assert pixels[row * 4 + 2, col * 4 + 2].tolist() == expected
    # default: a small map is enlarged by whole pixels to about 512 on its longer side
    assert png_scale((83, 86)) == 5 and png_scale((1000, 2000)) == 1
    default = Image.open(io.BytesIO(map_png_bytes(labels, PALETTE)))
    assert default.size == (3 * png_scale((2, 3)), 2 * png_scale((2, 3)))


def test_labels_npy_round_trips() -> None:
    labels = np.arange(12).reshape(3, 4) % 5
    loaded = np.load(io.BytesIO(labels_npy_bytes(labels)), allow_pickle=False)
    assert loaded.shape == (3, 4) and loaded.dtype == np.int16
    assert np.array_equal(loaded, labels)
    vector = np.load(io.BytesIO(labels_npy_bytes(np.array([2, 0, 1]))))
    assert vector.tolist() == [2, 0, 1]


def test_export_filename_says_dataset_method_k_seed_epoch_and_merges() -> None:
    assert export_filename("salinas_a", "sscc", 6, 3, 12, "npy") == (
        "salinas_a_sscc_K6_seed3_epoch12.npy"
    )
    assert export_filename("my scene/x", "kmeans", 6, 0, 1, ".png", merged_to=4) == (
        "my-scene-x_kmeans_K6_seed0_epoch1_merged4.png"
    )


class _Model:
    n_clusters = 3
    seed = 7


def test_run_json_is_the_cli_payload_with_the_history() -> None:
    history = RunHistory({"method": "kmeans", "dataset": "toy"})
    for epoch in (1, 2):
        history.append(
            EpochRecord(
                epoch=epoch,
                losses={"total": 1.0 / epoch},
                assignments=np.zeros((2, 2), dtype=np.int64),
                cluster_sizes=[4, 0, 0],
                metrics={"acc": 0.5 * epoch},
                seconds=0.25,
            )
        )
    run = Run(
        name="kmeans",
        dataset="toy",
        method=_Model(),
        labels=np.array([[0, 1], [1, 1]]),
        scores=None,
        seconds=1.5,
        settings={"epochs": 2},
    )
    payload = json.loads(run_json_bytes(run, history, epoch=2, merges=[0, 1, 1]))
    assert {k: payload[k] for k in ("method", "dataset", "n_clusters", "epoch")} == {
        "method": "kmeans",
        "dataset": "toy",
        "n_clusters": 2,
        "epoch": 2,
    }
    assert payload["settings"] == {"clusters": 3, "seed": 7, "epochs": 2}  # as metrics.json
    assert payload["merges"] == [0, 1, 1]
    epochs = payload["history"]["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[1]["losses"] == {"total": 0.5} and epochs[1]["metrics"] == {"acc": 1.0}
    assert epochs[0]["cluster_sizes"] == [4, 0, 0]
    assert payload["history"]["format"] == "explore-history-v1"


def _scene(georeferenced: bool) -> Scene:
    cube = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    grid = Georeference("EPSG:32633", (30.0, 0.0, 500_000.0, 0.0, -30.0, 4_100_000.0))
    return Scene(cube, name="toy", georeference=grid if georeferenced else None)


def test_geotiff_round_trips_on_the_scene_georeference() -> None:
    rasterio = pytest.importorskip("rasterio", reason="GeoTIFF export needs explore[geotiff]")
    from rasterio.io import MemoryFile

    scene = _scene(georeferenced=True)
    assert is_georeferenced(scene) and not is_georeferenced(_scene(georeferenced=False))
    labels = (np.arange(20).reshape(4, 5) % 3).astype(np.int16)
    with MemoryFile(geotiff_bytes(labels, scene)) as memory, memory.open() as dataset:
        assert dataset.count == 1 and (dataset.height, dataset.width) == (4, 5)
        assert np.array_equal(dataset.read(1), labels)
        assert tuple(dataset.transform)[:6] == scene.georeference.transform
        assert dataset.crs == rasterio.crs.CRS.from_string("EPSG:32633")
    with pytest.raises(FileFormatError, match="no georeference"):
        geotiff_bytes(labels, _scene(georeferenced=False))
