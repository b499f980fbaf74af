"""Scene: validation, label remapping, band selection, standardisation, PCA, composites."""

from __future__ import annotations

import numpy as np
import pytest

from explore.data.scene import Scene, remap_labels
from explore.errors import DataError


def make_scene(height: int = 6, width: int = 5, bands: int = 4, seed: int = 0) -> Scene:
    rng = np.random.default_rng(seed)
    cube = rng.normal(size=(height, width, bands)).astype(np.float32)
    labels = np.zeros((height, width), dtype=np.int64)
    labels[:2] = 1
    labels[3:] = 10
    return Scene(
        cube,
        labels,
        name="toy",
        class_names=("low", "high"),
        wavelengths=np.linspace(400, 1000, bands),
    )


def test_labels_are_remapped_to_contiguous_classes_and_original_values_kept() -> None:
    scene = make_scene()
    assert set(np.unique(scene.labels)) == {0, 1, 2}
    assert scene.label_values == (1, 10)
    assert scene.n_classes == 2
    assert scene.class_counts() == {1: 10, 2: 15}
    assert scene.labels.dtype == np.uint8


def test_remap_labels_keeps_zero_as_unlabelled() -> None:
    remapped, original = remap_labels(np.array([[0, 5], [7, 5]]))
    assert remapped.tolist() == [[0, 1], [2, 1]]
    assert original == (5, 7)


@pytest.mark.parametrize(
    ("cube", "labels", "message"),
    [
        (np.zeros((4, 4)), None, "3 axes"),
        (np.zeros((0, 4, 3)), None, "empty"),
        (np.full((2, 2, 2), np.nan), None, "NaN"),
        (np.full((2, 2, 2), np.inf), None, "Inf"),
        (np.zeros((4, 4, 3)), np.zeros((4, 5), dtype=int), "spatial shape"),
        (np.zeros((4, 4, 3)), -np.ones((4, 4), dtype=int), ">= 0"),
        (np.zeros((4, 4, 3)), np.full((4, 4), 0.5), "whole numbers"),
        (np.array([["a"]], dtype=object).reshape(1, 1, 1), None, "numeric"),
    ],
)
def test_invalid_input_raises_a_clear_error(cube, labels, message) -> None:
    with pytest.raises(DataError, match=message):
        Scene(cube, labels)


def test_nan_error_names_its_position() -> None:
    cube = np.zeros((3, 3, 2), dtype=np.float32)
    cube[1, 2, 1] = np.nan
    with pytest.raises(DataError, match="row 1, column 2, band 1"):
        Scene(cube)


def test_class_names_must_match_the_classes() -> None:
    with pytest.raises(DataError, match="class_names"):
        Scene(np.zeros((2, 2, 1)), np.array([[0, 1], [2, 3]]), class_names=("a", "b"))


def test_select_bands_by_indices_range_and_wavelengths() -> None:
    scene = make_scene(bands=7)
    by_index = scene.select_bands([0, 2, -1])
    assert np.array_equal(by_index.cube, scene.cube[:, :, [0, 2, 6]])
    assert np.allclose(by_index.wavelengths, scene.wavelengths[[0, 2, 6]])
    by_range = scene.select_bands(band_range=(1, 4))
    assert by_range.n_bands == 3
    by_nm = scene.select_bands(wavelength_range=(500, 800))
    expected = [i for i, nm in enumerate(scene.wavelengths) if 500 <= nm <= 800]
    assert np.array_equal(by_nm.cube, scene.cube[:, :, expected])
    # the original is untouched and labels survive
    assert scene.n_bands == 7
    assert np.array_equal(by_nm.labels, scene.labels)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"indices": [9]}, "out of range"),
        ({"indices": []}, "empty"),
        ({"band_range": (3, 3)}, "band_range"),
        ({"wavelength_range": (2000, 3000)}, "empty"),
        ({}, "exactly one"),
        ({"indices": [0], "band_range": (0, 1)}, "exactly one"),
    ],
)
def test_bad_band_selection_raises(kwargs, message) -> None:
    with pytest.raises(DataError, match=message):
        make_scene(bands=4).select_bands(**kwargs)


def test_wavelength_selection_needs_wavelengths() -> None:
    scene = Scene(np.zeros((2, 2, 3)))
    with pytest.raises(DataError, match="no wavelengths"):
        scene.select_bands(wavelength_range=(400, 500))


def test_standardize_gives_zero_mean_unit_variance_and_handles_constant_bands() -> None:
    cube = np.random.default_rng(1).normal(3.0, 2.0, size=(10, 10, 3)).astype(np.float32)
    cube[:, :, 2] = 7.0
    scene = Scene(cube).standardize()
    pixels = scene.pixels()
    assert np.allclose(pixels.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(pixels[:, :2].std(axis=0), 1.0, atol=1e-4)
    assert np.all(pixels[:, 2] == 0.0)


def test_pca_reduces_bands_and_keeps_most_variance() -> None:
    rng = np.random.default_rng(2)
    signal = rng.normal(size=(20, 20, 1))
    cube = np.concatenate([signal * w for w in (1.0, 2.0, -1.0, 0.5)], axis=2)
    cube += rng.normal(scale=1e-3, size=cube.shape)
    reduced = Scene(cube.astype(np.float32)).pca(2)
    assert reduced.shape == (20, 20, 2)
    assert reduced.wavelengths is None
    variances = reduced.pixels().var(axis=0)
    assert variances[0] > 100 * variances[1]
    with pytest.raises(DataError, match="n_components"):
        Scene(cube).pca(5)


def test_composite_is_in_unit_range_and_uses_natural_colour_bands() -> None:
    scene = make_scene(bands=31)
    image = scene.composite()
    assert image.shape == (6, 5, 3)
    assert image.min() >= 0.0 and image.max() <= 1.0
    red, green, blue = scene.default_rgb_bands()
    assert scene.wavelengths[red] > scene.wavelengths[green] > scene.wavelengths[blue]
    with pytest.raises(DataError, match="out of range"):
        scene.composite((0, 1, 99))


def test_crop_keeps_only_the_classes_inside() -> None:
    scene = make_scene()
    top = scene.crop(slice(0, 2), slice(None))
    assert top.n_classes == 1
    assert top.class_names == ("low",)
    assert top.label_values == (1,)
    with pytest.raises(DataError, match="empty"):
        scene.crop(slice(0, 0), slice(None))
