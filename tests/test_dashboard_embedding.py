"""`EmbeddingView` and the embedding plot: UMAP off the event loop, box selection mapped back to
pixels, pixels highlighted in the embedding, colouring, and errors shown rather than raised."""

from __future__ import annotations

import threading
import time
import warnings

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from sklearn.datasets import make_blobs

import explore.dashboard.embedding_view as embedding_view
from explore.dashboard.embedding_view import EmbeddingView
from explore.errors import DataError
from explore.transfer.embedding import subsample_indices
from explore.viz import category_colour, embedding_plot, label_palette, selected_points

N_ITEMS = 300


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    features, truth = make_blobs(
        n_samples=N_ITEMS, n_features=8, centers=3, center_box=(-20, 20), random_state=1
    )
    return features.astype(np.float32), truth


def _view(blobs, **params) -> EmbeddingView:
    features, truth = blobs
    defaults = dict(
        features=features,
        assignments=truth,
        class_labels=truth + 1,  # scene convention: 0 would be unlabelled
        pixel_index=np.arange(N_ITEMS) * 3 + 1,  # items are pixels 1, 4, 7, ... of a map
    )
    return EmbeddingView(**{**defaults, **params})


@pytest.fixture(scope="module")
def computed(blobs) -> EmbeddingView:
    view = _view(blobs, max_points=200)
    view.compute(wait=True)
    assert view.error == ""
    return view


def _categorical_legend(figure) -> dict[str, str]:
    """{category: colour} of the legend HoloViews draws for categorically shaded data."""
    for renderer in figure.renderers:
        mapper = getattr(getattr(renderer.glyph, "fill_color", None), "transform", None)
        if mapper is not None and hasattr(mapper, "factors"):
            return dict(zip(mapper.factors, mapper.palette, strict=True))
    raise AssertionError("no categorical legend in the figure")


def _highlight_count(figure) -> int:
    for item in figure.legend[0].items:
        if getattr(item.label, "value", None) == "highlighted":
            return len(item.renderers[0].data_source.data["x"])
    raise AssertionError("no highlight layer in the figure")


def test_compute_returns_at_once_and_fills_points_in_the_background(blobs, monkeypatch) -> None:
    release = threading.Event()
    real = embedding_view.umap_embedding

    def gated(data, **kwargs):
        assert release.wait(30)
        return real(data, **kwargs)

    monkeypatch.setattr(embedding_view, "umap_embedding", gated)
    view = _view(blobs)
    started = time.perf_counter()
    thread = view.compute()
    assert time.perf_counter() - started < 0.5
    assert thread is not None and thread.daemon and thread.is_alive()
    assert view.computing and "Computing UMAP" in view.status
    assert view.points is None
    assert view.compute() is thread  # a second press joins the run in progress
    release.set()
    thread.join(60)
    assert not view.computing and view.error == ""
    assert view.points.shape == (N_ITEMS, 2)
    assert "UMAP of 300 items" in view.status
    assert view.compute() is None and "up to date" in view.status
    plot = view.plot()
    assert isinstance(plot, hv.core.Dimensioned)
    figure = hv.render(plot, backend="bokeh")
    assert any(type(r.glyph).__name__ == "ImageRGBA" for r in figure.renderers)  # datashaded


def test_box_selection_sets_selection_and_map_selection(computed: EmbeddingView) -> None:
    points = computed.points
    assert points.shape == (200, 2)
    assert np.array_equal(computed.sample_index, subsample_indices(N_ITEMS, 200, 0))
    x0, y0 = points.min(axis=0)
    x1, y1 = np.median(points, axis=0)
    computed.bounds_stream.event(bounds=(x0, y0, x1, y1))
    expected = selected_points(points, (x0, y0, x1, y1))
    assert 0 < expected.size < 200
    assert computed.selection == expected.tolist()
    assert computed.highlighted == expected.tolist()
    pixels = (computed.sample_index[expected] * 3 + 1).tolist()
    assert computed.map_selection == pixels
    assert _highlight_count(hv.render(computed.plot())) == expected.size
    computed.bounds_stream.event(bounds=(1e6, 1e6, 2e6, 2e6))  # an empty box clears
    assert computed.selection == [] and computed.map_selection == []


def test_highlight_pixels_marks_the_embedded_points_of_those_pixels(computed) -> None:
    computed.bounds_stream.event(bounds=(-1e6, -1e6, 1e6, 1e6))
    selection = list(computed.selection)
    sample = computed.sample_index
    pixels = [int(sample[5]) * 3 + 1, int(sample[17]) * 3 + 1, 2]  # pixel 2 was never embedded
    chosen = computed.highlight_pixels(pixels)
    assert chosen.tolist() == [5, 17]
    assert computed.highlighted == [5, 17]
    assert computed.selection == selection  # the selection is left alone
    assert _highlight_count(hv.render(computed.plot())) == 2
    computed.highlight_pixels(None)
    assert computed.highlighted == []


def test_image_sets_map_selection_to_item_indices(blobs) -> None:
    view = _view(blobs, pixel_index=None, max_points=100)
    view.compute(wait=True)
    view.bounds_stream.event(bounds=(-1e6, -1e6, 1e6, 1e6))
    assert view.map_selection == view.sample_index.tolist()
    assert view.highlight_pixels(view.sample_index[:3]).tolist() == [0, 1, 2]


def test_colour_by_cluster_or_class_matches_the_map_colours(computed) -> None:
    computed.color_by = "cluster"
    figure = hv.render(computed.plot())
    assert "coloured by cluster" in figure.title.text
    assert _categorical_legend(figure) == {f"cluster {k}": label_palette(3)[k] for k in range(3)}
    computed.color_by = "class"
    figure = hv.render(computed.plot())
    assert "coloured by class" in figure.title.text
    # Classes 1..3 of a scene: the colours label_map gives them (palette entries 0..2).
    assert _categorical_legend(figure) == {f"class {k}": label_palette(3)[k - 1] for k in (1, 2, 3)}
    computed.class_names = ["water", "field", "forest"]
    assert set(_categorical_legend(hv.render(computed.plot()))) == {"water", "field", "forest"}
    computed.param.update(color_by="cluster", class_names=None)


def test_colour_by_class_without_classes_falls_back_to_clusters(blobs) -> None:
    view = _view(blobs, class_labels=None, color_by="class")
    view.compute(wait=True)
    assert "coloured by cluster" in hv.render(view.plot()).title.text


def test_nan_features_are_shown_not_raised(blobs) -> None:
    features = blobs[0].copy()
    features[3, 0] = np.nan
    view = _view(blobs, features=features)
    thread = view.compute(wait=True)
    assert thread is not None and not thread.is_alive()
    assert "NaN" in view.error and "failed" in view.status
    assert not view.computing and view.points is None
    assert view._alert.visible and "NaN" in view._alert.object
    assert isinstance(view.plot(), hv.Points)  # the empty placeholder


def test_unexpected_failures_in_the_thread_are_shown(blobs, monkeypatch) -> None:
    def broken(data, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(embedding_view, "umap_embedding", broken)
    view = _view(blobs)
    view.compute(wait=True)
    assert "out of memory" in view.error and not view.computing


def test_invalid_inputs_are_shown_without_starting_a_thread(blobs) -> None:
    empty = EmbeddingView()
    assert empty.compute() is None
    assert "no features" in empty.error
    view = _view(blobs, assignments=np.zeros(10, dtype=int))
    assert view.compute() is None
    assert "assignments must have one entry per item" in view.error
    small = _view(blobs, max_points=16, n_neighbors=30)
    small.compute(wait=True)
    assert "too few points" in small.error


def test_new_features_drop_the_old_embedding(blobs) -> None:
    view = _view(blobs, max_points=100)
    view.compute(wait=True)
    view.bounds_stream.event(bounds=(-1e6, -1e6, 1e6, 1e6))
    assert view.points is not None and view.selection
    view.features = blobs[0][::-1].copy()
    assert view.points is None and view.selection == [] and view.map_selection == []
    view.compute(wait=True)
    assert view.points is not None


def test_the_panel_layout_renders(computed) -> None:
    model = pn.panel(computed).get_root()
    assert model is not None


def test_embedding_plot_and_selected_points() -> None:
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.5]])
    assert selected_points(points, (2.5, 2.0, 0.5, -1)).tolist() == [1, 2]  # any corner order
    assert selected_points(points, None).tolist() == []
    plot = embedding_plot(points, np.array([0, 0, 1, 2]), highlight=[3], labels=["a", "b", "c"])
    figure = hv.render(plot)
    assert _categorical_legend(figure) == {
        "a": label_palette(3)[0],
        "b": label_palette(3)[1],
        "c": label_palette(3)[2],
    }
    assert _highlight_count(figure) == 1
    assert category_colour(0, zero_is_unlabelled=True) == "#000000"
    with pytest.raises(DataError, match="categories"):
        embedding_plot(points, np.array([0, 1]))
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        embedding_plot(np.zeros((4, 3)), np.zeros(4, dtype=int))


def _shaded_pixels(points: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """The RGBA image (H, W, 4) the embedding's datashaded layer draws for these points."""
    from explore.viz.embedding import embedding_points, shaded_points

    element, key = embedding_points(points, categories)
    image = shaded_points(element, key)[()]
    return np.dstack([image.dimension_values(i, flat=False) for i in range(2, 6)])


def test_a_run_with_every_item_in_one_cluster_is_drawn_in_that_clusters_colour() -> None:
    """A collapsed run (one cluster used) must still show its points, in the cluster's colour:
    HoloViews drops the category axis of a one-category aggregate, which left the plot blank
    (and warned 'All-NaN slice encountered')."""
    points = np.random.default_rng(0).normal(size=(300, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the shading
        one = _shaded_pixels(points, np.full(300, 9))
        two = _shaded_pixels(points, np.r_[np.full(150, 9), np.full(150, 3)])
    drawn = one[..., 3] > 0
    assert drawn.sum() > 0.5 * (two[..., 3] > 0).sum()
    colour = category_colour(9)
    expected = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    assert np.abs(one[drawn][:, :3].astype(int) - expected).max() <= 2
    figure = hv.render(embedding_plot(points, np.full(300, 9)))
    assert any(type(r.glyph).__name__ == "ImageRGBA" for r in figure.renderers)
