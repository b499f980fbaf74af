"""Training curves, spectra and image mosaics: right HoloViews types holding the right values."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.errors import DataError
from explore.training.history import EpochRecord, RunHistory
from explore.viz import (
    cluster_image_grid,
    cluster_mean_spectra,
    cluster_sizes,
    label_map,
    label_palette,
    loss_curves,
    metric_curves,
    pixel_spectrum,
    sample_per_cluster,
)


def _opts(element: hv.core.Dimensioned) -> dict:
    return element.opts.get().kwargs


def _render(element: hv.core.Dimensioned):
    """The bokeh figure of `element` (proves the view draws, not only builds)."""
    return hv.renderer("bokeh").get_plot(element).state


def _history(n_epochs: int = 3, *, with_metrics: bool = True) -> RunHistory:
    history = RunHistory({"method": "test"})
    for epoch in range(n_epochs):
        metrics: dict = {}
        if with_metrics:
            metrics = {
                "acc": 0.5 + 0.1 * epoch,
                "nmi": 0.4 + 0.05 * epoch,
                "per_class": {"1": 0.9},  # not a scalar: must be skipped
            }
        history.append(
            EpochRecord(
                epoch=epoch,
                losses={"instance": 3.0 - epoch, "cluster": 1.0 / (epoch + 1)},
                assignments=np.zeros((4, 5), dtype=np.int64),
                cluster_sizes=[12, 8 - epoch, epoch],
                metrics=metrics,
            )
        )
    return history


@pytest.fixture
def scene() -> Scene:
    rng = np.random.default_rng(0)
    labels = np.zeros((6, 7), dtype=int)
    labels[1:3, 2:5] = 2
    labels[4:, :] = 1
    return Scene(
        rng.random((6, 7, 9)).astype(np.float32),
        labels,
        name="toy",
        class_names=("soil", "water"),
        wavelengths=np.linspace(400, 2400, 9),
    )


# ---------------------------------------------------------------------------------- curves
def test_loss_curves_hold_the_history_losses() -> None:
    history = _history()
    overlay = loss_curves(history)
    assert isinstance(overlay, hv.Overlay)
    curves = {curve.label: curve for curve in overlay if isinstance(curve, hv.Curve)}
    assert set(curves) == {"instance", "cluster"}
    points = {layer.label for layer in overlay if isinstance(layer, hv.Scatter)}
    assert points == set(curves)  # each epoch drawn as a point too (one epoch has no line)
    for part, curve in curves.items():
        assert isinstance(curve, hv.Curve)
        assert [d.name for d in curve.kdims] == ["epoch"]
        assert [d.name for d in curve.vdims] == ["loss"]
        assert list(curve.dimension_values("epoch")) == [0, 1, 2]
        np.testing.assert_allclose(curve.dimension_values("loss"), history.curve(part))
    assert _opts(overlay)["show_legend"] is True
    _render(overlay)
    # A plain list of records works too.
    assert len(loss_curves(history.records)) == 4  # two curves and their points


def test_empty_history_gives_empty_overlay_with_axes() -> None:
    for view, vdim in ((loss_curves, "loss"), (metric_curves, "score")):
        overlay = view(RunHistory())
        assert isinstance(overlay, hv.Overlay)
        (curve,) = overlay
        assert len(curve) == 0
        assert (curve.kdims[0].name, curve.vdims[0].name) == ("epoch", vdim)
        figure = _render(overlay)
        assert figure.xaxis[0].axis_label == "epoch"


def test_metric_curves_skip_non_scalars_and_are_empty_without_labels() -> None:
    history = _history()
    overlay = metric_curves(history)
    curves = {curve.label: curve for curve in overlay if isinstance(curve, hv.Curve)}
    assert set(curves) == {"acc", "nmi"}  # per_class (a dict) skipped
    np.testing.assert_allclose(curves["acc"].dimension_values(1), [0.5, 0.6, 0.7])
    _render(overlay)
    unlabelled = metric_curves(_history(with_metrics=False))
    assert len(unlabelled) == 1 and len(unlabelled.values()[0]) == 0


def test_curves_refuse_something_that_is_not_a_history() -> None:
    with pytest.raises(DataError, match="RunHistory"):
        loss_curves(42)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="EpochRecord"):
        loss_curves([{"epoch": 0}])  # type: ignore[list-item]


def test_cluster_sizes_bars_use_label_map_colours() -> None:
    record = _history().last
    bars = cluster_sizes(record)
    assert isinstance(bars, hv.Bars)
    assert list(bars.dimension_values("cluster")) == [0, 1, 2]
    assert list(bars.dimension_values("size")) == record.cluster_sizes
    assert "epoch 2" in _opts(bars)["title"]
    # label_map draws cluster k of a cluster map (0 is a cluster) with colour k of its cmap.
    assignments = np.array([[0, 1], [2, 2]])
    map_colours = _opts(label_map(assignments, zero_is_unlabelled=False))["cmap"]
    assert list(bars.dimension_values("colour")) == map_colours[:3]
    assert list(bars.dimension_values("colour")) == label_palette(3)
    figure = _render(bars)
    assert figure.renderers[0].glyph.fill_color.field == "color"


def test_cluster_sizes_from_a_list_with_palette_and_bad_sizes() -> None:
    bars = cluster_sizes([4, 0, 7, 1], palette=["#111111", "#222222"])
    assert list(bars.dimension_values("size")) == [4, 0, 7, 1]
    assert list(bars.dimension_values("colour")) == ["#111111", "#222222"] * 2
    assert len(cluster_sizes([])) == 0
    with pytest.raises(DataError, match="1-D"):
        cluster_sizes(np.ones((2, 2), dtype=int))
    with pytest.raises(DataError, match=">= 0"):
        cluster_sizes([3, -1])
    with pytest.raises(DataError, match="whole"):
        cluster_sizes([1.5, 2.0])
    with pytest.raises(DataError, match="palette"):
        cluster_sizes([1, 2], palette=[])


# ---------------------------------------------------------------------------------- spectra
def test_pixel_spectrum_against_wavelengths_and_band_index(scene: Scene) -> None:
    curve = pixel_spectrum(scene, 1, 3)
    assert isinstance(curve, hv.Curve)
    assert curve.kdims[0].name == "wavelength" and curve.kdims[0].unit == "nm"
    np.testing.assert_allclose(curve.dimension_values(0), scene.wavelengths)
    np.testing.assert_allclose(curve.dimension_values(1), scene.cube[1, 3])
    title = _opts(curve)["title"]
    assert "row 1" in title and "col 3" in title and "water" in title
    assert "unlabelled" in _opts(pixel_spectrum(scene, 0, 0))["title"]
    _render(curve)

    bare = Scene(scene.cube)  # no wavelengths, no labels
    curve = pixel_spectrum(bare, 5, 6)
    assert curve.kdims[0].name == "band"
    assert list(curve.dimension_values(0)) == list(range(9))
    np.testing.assert_allclose(curve.dimension_values(1), scene.cube[5, 6])


def test_pixel_spectrum_refuses_pixels_outside_the_scene(scene: Scene) -> None:
    with pytest.raises(DataError, match="row 6 is out of range"):
        pixel_spectrum(scene, 6, 0)
    with pytest.raises(DataError, match="column -1 is out of range"):
        pixel_spectrum(scene, 0, -1)
    with pytest.raises(DataError, match="integer"):
        pixel_spectrum(scene, 0.5, 0)  # type: ignore[arg-type]


def test_cluster_mean_spectra_equal_numpy_means_and_map_colours(scene: Scene) -> None:
    assignments = scene.labels.astype(np.int64)  # clusters 0, 1, 2
    assignments[0, :3] = -1  # not assigned: ignored
    overlay = cluster_mean_spectra(scene, assignments)
    assert isinstance(overlay, hv.Overlay)
    curves = [e for e in overlay if isinstance(e, hv.Curve)]
    spreads = [e for e in overlay if isinstance(e, hv.Spread)]
    assert len(curves) == len(spreads) == 3
    map_colours = _opts(label_map(assignments.clip(0), zero_is_unlabelled=False))["cmap"]
    for k, (curve, spread) in enumerate(zip(curves, spreads, strict=True)):
        members = scene.cube[assignments == k]
        assert curve.label == f"cluster {k} ({len(members)} px)" == spread.label
        np.testing.assert_allclose(curve.dimension_values(0), scene.wavelengths)
        np.testing.assert_allclose(curve.dimension_values(1), members.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(spread.dimension_values(2), members.std(axis=0), rtol=1e-5)
        assert _opts(curve)["color"] == _opts(spread)["color"] == map_colours[k]
    figure = _render(overlay)
    assert len(figure.legend[0].items) == 3  # curve and band share one legend entry

    no_std = cluster_mean_spectra(scene, assignments, show_std=False)
    assert all(isinstance(e, hv.Curve) for e in no_std) and len(no_std) == 3


def test_cluster_mean_spectra_subsampling_is_reproducible(scene: Scene) -> None:
    assignments = np.zeros((6, 7), dtype=np.int64)
    capped = cluster_mean_spectra(scene, assignments, max_pixels=5, seed=3)
    again = cluster_mean_spectra(scene, assignments, max_pixels=5, seed=3)
    mean = capped.values()[-1].dimension_values(1)
    np.testing.assert_array_equal(mean, again.values()[-1].dimension_values(1))
    assert not np.allclose(mean, scene.pixels().mean(axis=0))  # 5 of 42 pixels
    assert capped.values()[-1].label == "cluster 0 (42 px)"  # legend gives the full size
    whole = cluster_mean_spectra(scene, assignments, max_pixels=1000)
    np.testing.assert_allclose(
        whole.values()[-1].dimension_values(1), scene.pixels().mean(axis=0), rtol=1e-6
    )


def test_cluster_mean_spectra_bad_input(scene: Scene) -> None:
    with pytest.raises(DataError, match=r"shape \(6, 7\).*got shape \(7, 6\)"):
        cluster_mean_spectra(scene, np.zeros((7, 6), dtype=int))
    with pytest.raises(DataError, match="whole numbers"):
        cluster_mean_spectra(scene, np.full((6, 7), 0.5))
    with pytest.raises(DataError, match="max_pixels"):
        cluster_mean_spectra(scene, np.zeros((6, 7), dtype=int), max_pixels=0)
    empty = cluster_mean_spectra(scene, np.full((6, 7), -1))
    assert isinstance(empty, hv.Overlay) and len(empty.values()[0]) == 0


def test_cluster_mean_spectra_on_the_embedded_scene() -> None:
    from explore.data.registry import load_scene

    scene = load_scene("indian_pines", download=False)
    assignments = scene.labels.astype(np.int64) - 1  # classes as clusters, unlabelled = -1
    overlay = cluster_mean_spectra(scene, assignments, show_std=False)
    assert len(overlay) == scene.n_classes
    first = overlay.values()[0]
    np.testing.assert_allclose(
        first.dimension_values(1), scene.cube[scene.labels == 1].mean(axis=0), rtol=1e-5
    )


# ---------------------------------------------------------------------------------- mosaic
def _expected_shape(rows: int, per_cluster: int, height: int, width: int) -> tuple[int, int]:
    gap, strip = max(1, round(min(height, width) / 8)), max(2, round(width / 4))
    return (
        gap + rows * (height + gap),
        3 * gap + strip + per_cluster * width + (per_cluster - 1) * gap,
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_cluster_image_grid_places_sampled_images(channels: int) -> None:
    rng = np.random.default_rng(1)
    images = rng.random((40, channels, 8, 12)).astype(np.float32)
    assignments = rng.integers(0, 3, 40)
    assignments[assignments == 1] = 4  # cluster ids need not be contiguous
    assignments[:2] = -1  # not assigned
    mosaic = cluster_image_grid(images, assignments, per_cluster=4, seed=5)
    assert isinstance(mosaic, hv.RGB)
    pixels = np.asarray(mosaic.data)
    assert pixels.shape == (*_expected_shape(3, 4, 8, 12), 3)

    samples = sample_per_cluster(assignments, 4, seed=5)
    assert list(samples) == [0, 2, 4]
    gap, strip = 1, 3
    colours = label_palette(5)
    ticks = _opts(mosaic)["yticks"]
    for row, (k, members) in enumerate(samples.items()):
        assert len(members) == 4 and set(assignments[members]) == {k}
        top = gap + row * (8 + gap)
        strip_rgb = pixels[top, gap]
        assert "#" + "".join(f"{round(v * 255):02x}" for v in strip_rgb) == colours[k]
        for column, index in enumerate(members):
            x0 = 2 * gap + strip + column * (12 + gap)
            tile = pixels[top : top + 8, x0 : x0 + 12]
            expected = np.broadcast_to(images[index].transpose(1, 2, 0), (8, 12, 3))
            np.testing.assert_allclose(tile, expected)
        position, label = ticks[row]
        assert label == f"cluster {k} ({int((assignments == k).sum())})"
        assert pixels.shape[0] - top - 8 <= position <= pixels.shape[0] - top
    figure = _render(mosaic)
    assert figure.yaxis[0].major_label_overrides  # one named tick per cluster row


def test_cluster_image_grid_is_deterministic_and_takes_an_imageset() -> None:
    rng = np.random.default_rng(2)
    images = rng.random((30, 1, 6, 6)).astype(np.float32)
    labels = np.arange(30) % 2
    dataset = ImageSet(images=images, labels=labels, name="tiny")
    first = cluster_image_grid(dataset, labels, per_cluster=3, seed=7)
    second = cluster_image_grid(images, labels, per_cluster=3, seed=7)
    np.testing.assert_array_equal(first.data, second.data)
    assert "tiny" in _opts(first)["title"]
    other = cluster_image_grid(images, labels, per_cluster=3, seed=8)
    assert not np.array_equal(first.data, other.data)
    # A cluster smaller than per_cluster leaves white cells.
    small = cluster_image_grid(images, np.r_[np.zeros(29, int), 1], per_cluster=3)
    assert np.asarray(small.data).shape == (*_expected_shape(2, 3, 6, 6), 3)


def test_cluster_image_grid_bad_input() -> None:
    images = np.zeros((5, 3, 4, 4), dtype=np.float32)
    with pytest.raises(DataError, match=r"shape \(5,\).*got shape \(4,\)"):
        cluster_image_grid(images, np.zeros(4, dtype=int))
    with pytest.raises(DataError, match="4 axes"):
        cluster_image_grid(np.zeros((5, 4, 4)), np.zeros(5, dtype=int))
    with pytest.raises(DataError, match="channels"):
        cluster_image_grid(np.zeros((5, 2, 4, 4)), np.zeros(5, dtype=int))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        cluster_image_grid(images + 2.0, np.zeros(5, dtype=int))
    with pytest.raises(DataError, match="per_cluster"):
        cluster_image_grid(images, np.zeros(5, dtype=int), per_cluster=0)
    with pytest.raises(DataError, match="negative"):
        cluster_image_grid(images, np.full(5, -1))
