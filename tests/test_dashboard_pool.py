"""The augmentation pool editor and its preview, at the Python level (no browser): widgets edit
the pool through the library's validation, invalid values are shown and not applied, and the
preview follows the pool."""

from __future__ import annotations

import json

import holoviews as hv
import numpy as np
import panel as pn
import pytest
import torch

from explore.augment import (
    AugmentationPool,
    BandMask,
    GaussianBlur,
    SpectralSmooth,
    describe_operation,
    get_preset,
    resolve_pool,
)
from explore.dashboard.augmentation_preview import AugmentationPreview, preview_sampler
from explore.dashboard.pool_editor import (
    SCENE_PRESETS,
    IntervalInput,
    OperationParam,
    PoolEditor,
    scene_operation_names,
)
from explore.data.registry import load_scene
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError
from explore.viz.augment import augmentation_preview


@pytest.fixture(scope="module")
def scene() -> Scene:
    return load_scene("indian_pines", download=False)


@pytest.fixture
def editor() -> PoolEditor:
    return PoolEditor()


@pytest.fixture
def preview(editor: PoolEditor, scene: Scene) -> AugmentationPreview:
    return AugmentationPreview(editor=editor, scene=scene)


def _mosaic(layout: hv.Layout) -> np.ndarray:
    (rgb,) = layout.traverse(lambda element: element, [hv.RGB])
    return np.asarray(rgb.data)


def _names(editor: PoolEditor) -> list[str]:
    return [editor.operation(path)["name"] for path in editor.operation_paths()]


# ---------------------------------------------------------------------- editor


def test_operations_offered_are_the_spectral_spatial_ones() -> None:
    names = scene_operation_names()
    assert {"band_mask", "pixel_mask", "random_resized_crop", "spectral_noise"} <= set(names)
    assert "color_jitter" not in names and "rand_augment" not in names


def test_default_editor_shows_the_reference_pool(editor: PoolEditor) -> None:
    assert editor.pool == get_preset("sscc_reference")
    assert _names(editor) == [
        "random_resized_crop",
        "random_flip",
        "random_choice",
        "gaussian_blur",
        "pixel_mask",
        "band_mask",
    ]
    assert [w.value for w in editor.parameter_widgets((0,), "scale")] == [0.08, 1.0]
    assert editor.parameter_widgets((1,), "horizontal")[0].value is True
    assert editor.parameter_widgets((2, 0), "kernel_size")[0].value == 3
    spec = editor.pool_spec
    assert json.loads(json.dumps(spec)) == spec == editor.to_dict()
    assert resolve_pool(spec) == editor.pool  # what a method's `augmentation` setting takes


def test_editing_a_widget_changes_the_pool_and_the_preview(
    editor: PoolEditor, preview: AugmentationPreview
) -> None:
    before_spec = editor.to_dict()
    before_image = _mosaic(preview.drawn)
    low, _ = editor.parameter_widgets((0,), "scale")
    low.value = 0.9  # as the browser would
    assert editor.error == ""
    assert editor.to_dict() != before_spec
    assert editor.pool.root.ops[0].scale == (0.9, 1.0)
    assert editor.pool.name == "sscc_reference_edited"
    after_image = _mosaic(preview.drawn)  # redrawn by the pool's watcher
    assert after_image.shape == before_image.shape
    assert not np.array_equal(after_image, before_image)
    assert not preview.message.visible

    editor.parameter_widgets((2, 1), "p")[0].value = 0.9  # a nested operation
    assert editor.pool.root.ops[2].ops[1].p == 0.9
    editor.parameter_widgets((1,), "vertical")[0].value = True
    assert editor.pool.root.ops[1].vertical is True


def test_invalid_values_show_an_alert_and_keep_the_last_valid_pool(
    editor: PoolEditor, preview: AugmentationPreview
) -> None:
    valid = editor.to_dict()
    image = _mosaic(preview.drawn)
    probability = editor.parameter_widgets((1,), "p")[0]
    probability.value = 1.5
    assert editor.to_dict() == valid
    assert editor.alert.visible and "probability" in editor.alert.object
    assert probability.value == 0.5  # back to the last valid value; the alert says why
    assert "You typed 1.5" in editor.alert.object
    assert np.array_equal(_mosaic(preview.drawn), image)

    for widget, value in [
        (editor.parameter_widgets((2, 0), "kernel_size")[0], 4),  # even kernel
        (editor.parameter_widgets((0,), "scale")[0], 1.5),  # low > high
        (editor.parameter_widgets((2,), "weights")[0], [1.0, 2.0]),  # one weight too few
        (editor.parameter_widgets((2, 0), "sigma")[1], None),  # field cleared
    ]:
        widget.value = value
        assert editor.to_dict() == valid
        assert editor.alert.visible and editor.error
    assert not editor.set_parameter((0,), "no_such", 1) and "no_such" in editor.error
    assert not editor.set_parameter((7,), "p", 0.5) and "no operation 8" in editor.error
    assert editor.to_dict() == valid

    editor.parameter_widgets((2, 2), "p")[0].value = 0.25  # a valid edit clears the alert
    assert not editor.alert.visible and editor.error == ""
    assert probability.value == 0.5
    assert editor.parameter_widgets((2, 0), "kernel_size")[0].value == 3


def test_each_card_says_what_its_operation_does(editor: PoolEditor) -> None:
    assert editor.operation_note(()) == describe_operation("sequence")
    for path in editor.operation_paths():
        assert editor.operation_note(path) == describe_operation(editor.operation(path)["name"])
    assert editor.operation_note((2, 2)).startswith("Zero each band")  # band_mask
    editor.operation_buttons((0,))["remove"].clicks += 1  # the notes follow the cards
    assert editor.operation_note((0,)) == describe_operation("random_flip")


def test_add_remove_and_reorder_operations(editor: PoolEditor) -> None:
    editor.add_select.value = "spectral_noise"
    editor.add_button.clicks += 1
    assert _names(editor)[-1] == "spectral_noise"
    assert editor.parameter_widgets((3,), "std")[0].value == 0.05

    editor.add_into.value = (2,)  # into the random choice
    editor.add_select.value = "spectral_smooth"
    editor.add_button.clicks += 1
    assert [op.name for op in editor.pool.root.ops[2].ops][-1] == "spectral_smooth"
    editor.add_into.value = ()

    editor.operation_buttons((3,))["up"].clicks += 1
    assert [op.name for op in editor.pool.root.ops] == [
        "random_resized_crop",
        "random_flip",
        "spectral_noise",
        "random_choice",
    ]
    assert editor.operation_buttons((0,))["up"].disabled
    assert not editor.move_operation(0, -1) and editor.error == ""  # past the top: no-op
    assert editor.move_operation((3, 0), 1)  # inside the group
    assert [op.name for op in editor.pool.root.ops[3].ops][:2] == ["pixel_mask", "gaussian_blur"]

    editor.operation_buttons((0,))["remove"].clicks += 1
    assert [op.name for op in editor.pool.root.ops] == [
        "random_flip",
        "spectral_noise",
        "random_choice",
    ]
    assert not editor.remove_operation(()) and editor.alert.visible


def test_weights_follow_their_operations_and_a_group_cannot_be_emptied(
    editor: PoolEditor,
) -> None:
    assert editor.set_parameter((2,), "weights", [1.0, 2.0, 3.0])
    assert editor.move_operation((2, 2), -1)
    assert editor.pool.root.ops[2].weights == (1.0, 3.0, 2.0)
    assert editor.remove_operation((2, 0))
    assert editor.pool.root.ops[2].weights == (3.0, 2.0)
    assert editor.add_operation("identity", into=(2,))
    assert editor.pool.root.ops[2].weights == (3.0, 2.0, 1.0)
    for _ in range(2):
        assert editor.remove_operation((2, 0))
    kept = editor.to_dict()
    assert not editor.remove_operation((2, 0))  # a RandomChoice needs one operation
    assert editor.to_dict() == kept and "at least one" in editor.error
    assert not editor.add_operation("color_jitter") and "hyperspectral" in editor.error
    assert not editor.add_operation("band_mask", into=(0,)) and "not a group" in editor.error


@pytest.mark.parametrize("name", SCENE_PRESETS)
def test_loading_each_preset(editor: PoolEditor, name: str) -> None:
    editor.set_parameter((1,), "p", 0.9)
    editor.preset = name
    editor.load_button.clicks += 1
    assert editor.pool == get_preset(name) and editor.pool.name == name
    assert editor.error == ""
    for path in editor.operation_paths():
        spec = editor.operation(path)
        for key in spec["params"]:
            if key != "ops":
                assert editor.parameter_widgets(path, key)
    assert not editor.load_preset("cc_weak") and editor.alert.visible  # an image preset


def test_a_lone_operation_is_edited_as_a_one_operation_sequence() -> None:
    editor = PoolEditor(pool=AugmentationPool(BandMask(p=0.3), name="masks"))
    assert editor.operation_paths() == [(0,)]
    editor.parameter_widgets((0,), "p")[0].value = 0.6
    assert editor.pool.root.name == "sequence"
    assert editor.pool.root.ops == [BandMask(p=0.6)]
    assert editor.pool.name == "masks_edited"


# ---------------------------------------------------------------------- preview


def test_preview_shapes(preview: AugmentationPreview, scene: Scene) -> None:
    assert (preview.row, preview.col) == (72, 72)
    assert preview.patch().shape == (200, 11, 11)
    assert preview.views().shape == (8, 200, 11, 11)
    layout = preview.drawn
    assert isinstance(layout, hv.Layout)
    # original + 8 views in rows of PREVIEW_COLUMNS (5), 1 px gaps
    assert _mosaic(layout).shape == (2 * 12 - 1, 5 * 12 - 1, 3)
    (views,) = layout.traverse(lambda element: element, [hv.NdOverlay])
    assert len(views) == 8
    curves = layout.traverse(lambda element: element, [hv.Curve])
    assert len(curves) == 9
    assert np.allclose(curves[0].dimension_values(0), scene.wavelengths)

    preview.param.update(patch_size=7, n_views=3)
    assert preview.views().shape == (3, 200, 7, 7)
    assert _mosaic(preview.drawn).shape == (7, 4 * 8 - 1, 3)


def test_patches_are_standardised_and_reflect_padded_like_the_sampler(
    preview: AugmentationPreview, scene: Scene
) -> None:
    standard = scene.standardize()
    sampler = PatchSampler(standard, patch_size=11, padding_mode="reflect")
    for row, col in [(0, 0), (72, 72), (144, 3)]:
        preview.param.update(row=row, col=col)
        expected = sampler.patches_at([row], [col])[0]
        assert torch.equal(preview.patch(), expected)
    assert preview_sampler(scene, 11) is preview_sampler(scene, 11)  # cut once per scene

    tiny = Scene(np.random.default_rng(0).random((3, 4, 5)).astype(np.float32))
    small = AugmentationPreview(editor=PoolEditor(), scene=tiny, row=1, col=2, patch_size=9)
    big = PatchSampler(tiny.standardize(), patch_size=9).patches_at([1], [2])[0]
    assert torch.equal(small.patch(), big)  # radius larger than the scene


def test_preview_is_deterministic_for_a_fixed_seed(preview: AugmentationPreview) -> None:
    first = preview.views()
    assert torch.equal(preview.views(), first)
    image = _mosaic(preview.drawn)
    preview.seed = 1
    assert not torch.equal(preview.views(), first)
    assert not np.array_equal(_mosaic(preview.drawn), image)
    preview.seed = 0
    assert np.array_equal(_mosaic(preview.drawn), image)


def test_value_changes_stream_into_the_same_plot(preview: AugmentationPreview) -> None:
    plot = preview.plot.object  # DynamicMaps fed by a pipe: updates only send data
    preview.seed = 4
    preview.editor.set_parameter((1,), "p", 0.9)
    assert preview.plot.object is plot
    preview.n_views = 5  # the mosaic changes shape: a new plot
    assert preview.plot.object is not plot
    assert _mosaic(preview.drawn).shape == (2 * 12 - 1, 5 * 12 - 1, 3)  # 6 tiles, rows of 5


def test_switching_scene_recentres_and_a_bad_patch_size_is_shown(
    preview: AugmentationPreview,
) -> None:
    small = Scene(np.random.default_rng(1).random((9, 12, 30)).astype(np.float32))
    preview.scene = small
    assert (preview.row, preview.col) == (4, 6)
    assert preview.param.row.bounds == (0, 8)
    assert preview.views().shape == (8, 30, 11, 11)
    assert not preview.message.visible

    preview.patch_size = 10
    assert preview.message.visible and "odd" in preview.message.object
    assert not preview.plot.visible
    preview.patch_size = 5
    assert not preview.message.visible and preview.plot.visible


def test_editor_and_preview_render_to_bokeh_models(preview: AugmentationPreview) -> None:
    import panel as pn

    assert pn.panel(preview.editor).get_root() is not None
    assert pn.panel(preview).get_root() is not None


def test_augmentation_preview_checks_shapes() -> None:
    patch = torch.randn(20, 5, 5)
    views = torch.randn(3, 20, 5, 5)
    layout = augmentation_preview(patch, views, (3, 2, 1), wavelengths=np.linspace(400, 900, 20))
    assert _mosaic(layout).shape == (5, 4 * 6 - 1, 3)
    assert augmentation_preview(patch.numpy(), views.numpy(), (0, 1, 2), columns=2)
    with pytest.raises(DataError, match="original"):
        augmentation_preview(patch[0], views, (0, 1, 2))
    with pytest.raises(DataError, match="views"):
        augmentation_preview(patch, views[:, :10], (0, 1, 2))
    with pytest.raises(DataError, match="views"):
        augmentation_preview(patch, views[0], (0, 1, 2))
    with pytest.raises(DataError, match="rgb_bands"):
        augmentation_preview(patch, views, (0, 1, 20))
    with pytest.raises(DataError, match="wavelengths"):
        augmentation_preview(patch, views, (0, 1, 2), wavelengths=[500.0, 600.0])
    with pytest.raises(DataError, match="finite"):
        augmentation_preview(patch, views * float("nan"), (0, 1, 2))


# ---------------------------------------------------------------------- widgets from params


def test_widgets_are_built_by_pn_param_from_the_operations_params(editor: PoolEditor) -> None:
    blur_path = (2, 0)
    pane = editor.parameter_pane(blur_path)
    assert isinstance(pane, pn.Param) and isinstance(pane.object, GaussianBlur)
    assert pane.object == editor.pool.root.ops[2].ops[0]  # a copy, in step with the pool
    declared = GaussianBlur.param
    kernel = editor.parameter_widgets(blur_path, "kernel_size")[0]
    assert isinstance(kernel, pn.widgets.IntInput)
    assert kernel.step == declared.kernel_size.step == 2
    probability = editor.parameter_widgets(blur_path, "p")[0]
    assert isinstance(probability, pn.widgets.FloatInput)
    assert probability.step == declared.p.step and probability.value == 0.5
    # The bounds are in the tooltip, not in the box: the browser would silently clamp a
    # value out of bounds; the library refuses it and the alert says why.
    assert "Must be a probability in [0, 1]." in probability.description
    assert probability.start is None and probability.end is None
    low, high = editor.parameter_widgets(blur_path, "sigma")
    assert isinstance(pane.built["sigma"], IntervalInput)
    assert (low.value, high.value) == (0.1, 2.0) and low.step == declared.sigma.step
    assert "0 < low <= high" in low.description
    assert isinstance(editor.parameter_widgets((1,), "vertical")[0], pn.widgets.Checkbox)
    assert isinstance(editor.parameter_widgets((2,), "weights")[0], pn.widgets.LiteralInput)

    high.value = 1.5  # a valid edit: the pool and the pane's operation follow
    assert editor.pool.root.ops[2].ops[0].sigma == (0.1, 1.5)
    assert editor.parameter_pane(blur_path).object.sigma == (0.1, 1.5)
    kernel.value = 2  # refused by the OddSize parameter, shown in the alert
    assert "GaussianBlur.kernel_size must be an odd positive integer" in editor.alert.object
    assert kernel.value == 3 and editor.parameter_pane(blur_path).object.kernel_size == 3


def test_an_optional_number_is_a_clearable_box() -> None:
    editor = PoolEditor(pool=AugmentationPool([SpectralSmooth()], name="smooth"))
    sigma = editor.parameter_widgets((0,), "sigma")[0]
    assert isinstance(sigma, pn.widgets.FloatInput) and sigma.value is None
    sigma.value = 1.5
    assert editor.pool.root.ops[0].sigma == 1.5
    sigma.value = None  # cleared: a box kernel again
    assert editor.pool.root.ops[0].sigma is None and editor.error == ""
    sigma.value = 0.0
    assert "SpectralSmooth.sigma must be a finite number > 0 or None" in editor.error
    assert sigma.value is None


def test_operation_param_widgets_do_not_write_to_their_operation() -> None:
    operation = BandMask(p=0.3)
    pane = OperationParam(operation)
    assert list(pane.built) == ["p"] and pane.built["p"].value == 0.3
    pane.built["p"].value = 1.5  # no exception: the editor, not the widget, applies values
    assert operation.p == 0.3
    operation.p = 0.7  # the other way, pn.Param keeps the widget in step
    assert pane.built["p"].value == 0.7
