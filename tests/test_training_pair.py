"""The pool preview's training pair: the partner pixel drawn as the spatial views draw it, the
views drawn by the editor's pool, and the side-by-side drawing."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
import torch

from explore.augment import AugmentationPool
from explore.dashboard.augmentation_preview import AugmentationPreview
from explore.data.scene import Scene
from explore.errors import DataError
from explore.training.sources import SceneSource, window_neighbours
from explore.viz.augment import training_pair


def _scene(height: int = 20, width: int = 24, bands: int = 6) -> Scene:
    rng = np.random.default_rng(0)
    cube = rng.normal(size=(height, width, bands)).astype(np.float32)
    labels = np.zeros((height, width), dtype=np.int64)
    labels[:, width // 2 :] = 1
    labels[: height // 2] += 1
    return Scene(cube, labels=labels, name="toy")


def test_window_neighbours_stay_in_the_clipped_window_and_cover_it() -> None:
    height, width, radius = 9, 11, 2
    pixels = torch.tensor([0, 5 * width + 5, height * width - 1]).repeat(400)
    drawn = window_neighbours(pixels, (height, width), radius, torch.Generator().manual_seed(1))
    rows, cols = drawn // width, drawn % width
    assert ((rows - pixels // width).abs() <= radius).all()
    assert ((cols - pixels % width).abs() <= radius).all()
    assert ((rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)).all()
    centre = drawn[1::3]  # the inner pixel reaches all 25 of its window
    assert len(set(centre.tolist())) == (2 * radius + 1) ** 2
    same = window_neighbours(pixels, (height, width), 0, torch.Generator().manual_seed(1))
    assert torch.equal(same, pixels)
    with pytest.raises(DataError, match="radius"):
        window_neighbours(pixels, (height, width), -1, torch.Generator())


def test_the_trainers_spatial_neighbours_are_the_same_draws() -> None:
    scene = _scene()
    source = SceneSource(scene, patch_size=3)
    indices = torch.arange(0, scene.shape[0] * scene.shape[1], 7)
    ours = window_neighbours(indices, scene.shape[:2], 2, torch.Generator().manual_seed(3))
    theirs = source.spatial_neighbours(indices, 2, torch.Generator().manual_seed(3))
    assert torch.equal(ours, theirs)


def test_the_preview_pair_is_the_pixel_a_partner_in_its_window_and_a_view_of_each() -> None:
    preview = AugmentationPreview(scene=_scene(), row=10, col=12, patch_size=5, seed=4)
    assert not preview.message.visible
    anchor, partner, view_a, view_b, row, col = preview.pair()
    assert abs(row - 10) <= 2 and abs(col - 12) <= 2
    sampler_patch = preview.patch()
    assert torch.equal(anchor, sampler_patch)
    assert anchor.shape == partner.shape == view_a.shape == view_b.shape == (6, 5, 5)
    assert not torch.equal(view_a, anchor)  # the reference pool changes the patch
    again = preview.pair()  # one seed, one pair
    assert all(
        torch.equal(a, b) for a, b in zip(again[:4], (anchor, partner, view_a, view_b), strict=True)
    )
    assert f"pixel ({row}, {col}), drawn from the 5 x 5 window" in preview.pair_note.object

    preview.pair_radius = 0
    anchor, partner, *_, row, col = preview.pair()
    assert (row, col) == (10, 12) and torch.equal(anchor, partner)
    assert "the pool on the same pixel" in preview.pair_note.object


def test_the_pair_uses_the_editors_pool() -> None:
    preview = AugmentationPreview(scene=_scene(), row=3, col=4, patch_size=3, pair_radius=0)
    preview.editor.pool = AugmentationPool.from_dict(
        {"root": {"name": "sequence", "params": {"ops": [], "p": 1.0}}}
    )
    anchor, _, view_a, view_b, *_ = preview.pair()
    assert torch.equal(view_a, anchor) and torch.equal(view_b, anchor)  # an empty pool


def test_a_bad_patch_size_hides_the_pair_with_the_reason() -> None:
    preview = AugmentationPreview(scene=_scene(), patch_size=5)
    preview.patch_size = 4
    assert preview.message.visible and "odd" in preview.message.object
    assert not preview.pair_plot.visible and not preview.pair_note.visible
    preview.patch_size = 3
    assert not preview.message.visible and preview.pair_plot.visible


def test_training_pair_draws_four_square_tiles_in_a_row() -> None:
    rng = np.random.default_rng(0)
    patches = [rng.normal(size=(5, 7, 7)).astype(np.float32) for _ in range(4)]
    overlay = training_pair(*patches, rgb_bands=(0, 2, 4))
    rgb = overlay.get(0)
    assert isinstance(rgb, hv.RGB)
    assert rgb.data.shape[:2] == (7, 4 * 8 - 1)  # 1 px gaps between the tiles
    names = list(overlay.get(1).dimension_values("tile"))
    assert names == ["pixel", "view 1", "partner", "view 2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.__setitem__(1, p[1][:, :5, :5]), "partner has shape"),
        (lambda p: p[3].__setitem__((0, 0, 0), np.nan), "finite"),
        (lambda p: None, "rgb_bands"),
    ],
)
def test_training_pair_refuses_bad_input(change, message) -> None:
    patches = [np.zeros((3, 7, 7), dtype=np.float32) for _ in range(4)]
    change(patches)
    bands = (0, 1, 7) if message == "rgb_bands" else (0, 1, 2)
    with pytest.raises(DataError, match=message):
        training_pair(*patches, rgb_bands=bands)
