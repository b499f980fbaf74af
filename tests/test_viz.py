"""Views return HoloViews elements shaped like the scene."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from explore.data.scene import Scene
from explore.errors import DataError
from explore.viz import band_image, composite_image, label_map, label_palette


@pytest.fixture
def scene() -> Scene:
    rng = np.random.default_rng(0)
    labels = np.zeros((8, 10), dtype=int)
    labels[2:5, 3:7] = 2
    labels[6:, :] = 1
    return Scene(
        rng.random((8, 10, 12)).astype(np.float32), labels, wavelengths=np.linspace(400, 2400, 12)
    )


def test_composite_is_an_rgb_element_of_the_scene_size(scene: Scene) -> None:
    element = composite_image(scene, (5, 3, 1))
    assert isinstance(element, hv.RGB)
    assert element.dimension_values(2, flat=False).shape == (8, 10)
    assert "nm" in element.opts.get().kwargs["title"]


def test_label_map_keeps_values_and_orientation(scene: Scene) -> None:
    element = label_map(scene.labels)
    assert isinstance(element, hv.Image)
    values = element.dimension_values("label", flat=False)
    # HoloViews stores rows bottom-up; flipping gives back the array as given (row 0 on top).
    assert np.array_equal(np.flipud(values), scene.labels)
    colours = element.opts.get().kwargs["cmap"]
    assert colours[0] == "#000000"  # unlabelled drawn black


def test_band_image_and_bad_band(scene: Scene) -> None:
    assert isinstance(band_image(scene, 4), hv.Image)
    with pytest.raises(DataError, match="out of range"):
        band_image(scene, 12)
    with pytest.raises(DataError, match="2-D"):
        label_map(np.zeros((2, 2, 2)))


def test_palette_colours_are_distinct() -> None:
    colours = label_palette(20)
    assert len(set(colours)) == 20
