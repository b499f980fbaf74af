"""PatchSampler: patch contents against numpy references, coverage and reproducibility of
batches, border modes, and the errors raised for bad sizes and indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError

NUMPY_MODES = {"reflect": {"mode": "reflect"}, "replicate": {"mode": "edge"}, "zeros": {}}


def _cube(height: int = 7, width: int = 9, bands: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, bands), dtype=np.float32)


def _reference_patches(cube: np.ndarray, patch_size: int, mode: str, pixels) -> np.ndarray:
    """(n, B, p, p) patches cut with numpy from np.pad(cube): the reference."""
    radius = patch_size // 2
    padded = np.pad(cube, ((radius, radius), (radius, radius), (0, 0)), **NUMPY_MODES[mode])
    return np.stack(
        [padded[r : r + patch_size, c : c + patch_size].transpose(2, 0, 1) for r, c in pixels]
    )


def _border_and_random_pixels(height: int, width: int, n_random: int, seed: int = 0):
    corners = [(0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1)]
    edges = [(0, width // 2), (height - 1, width // 2), (height // 2, 0), (height // 2, width - 1)]
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, height, n_random), rng.integers(0, width, n_random)
    random = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    return corners + edges + random


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros"])
@pytest.mark.parametrize("patch_size", [1, 3, 5])
def test_patches_match_numpy_padding(mode: str, patch_size: int) -> None:
    cube = _cube()
    sampler = PatchSampler(cube, patch_size, padding_mode=mode)
    pixels = _border_and_random_pixels(7, 9, 20)
    indices = [r * 9 + c for r, c in pixels]
    patches = sampler.patches(indices)
    assert patches.shape == (len(pixels), 4, patch_size, patch_size)
    expected = _reference_patches(cube, patch_size, mode, pixels)
    np.testing.assert_array_equal(patches.numpy(), expected)


def test_interior_patch_is_the_raw_neighbourhood() -> None:
    cube = _cube(12, 10, 3)
    sampler = PatchSampler(cube, 5)
    patch = sampler.patches_at([6], [4])[0]
    np.testing.assert_array_equal(patch.numpy(), cube[4:9, 2:7].transpose(2, 0, 1))
    # The centre of every patch is the pixel itself.
    np.testing.assert_array_equal(patch[:, 2, 2].numpy(), cube[6, 4])


def test_border_values_per_mode() -> None:
    cube = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    top_left = {
        mode: PatchSampler(cube, 3, padding_mode=mode).patches([0])[0, 0].numpy()
        for mode in ("reflect", "replicate", "zeros")
    }
    np.testing.assert_array_equal(top_left["zeros"], [[0, 0, 0], [0, 0, 1], [0, 4, 5]])
    np.testing.assert_array_equal(top_left["replicate"], [[0, 0, 1], [0, 0, 1], [4, 4, 5]])
    np.testing.assert_array_equal(top_left["reflect"], [[5, 4, 5], [1, 0, 1], [5, 4, 5]])


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_patch_larger_than_cube_pads_like_numpy(mode: str) -> None:
    # Reflect padding of 5 on a 2 x 3 cube needs repeated reflection (torch's pad refuses it).
    cube = _cube(2, 3, 2)
    sampler = PatchSampler(cube, 11, padding_mode=mode)
    pixels = [(r, c) for r in range(2) for c in range(3)]
    expected = _reference_patches(cube, 11, mode, pixels)
    np.testing.assert_array_equal(sampler.patches(range(6)).numpy(), expected)


def test_patches_at_and_centre_spectra_agree_with_flat_indices() -> None:
    cube = _cube()
    sampler = PatchSampler(cube, 3)
    rows, cols = np.array([0, 6, 3]), np.array([8, 0, 4])
    flat = torch.as_tensor(rows * 9 + cols)
    torch.testing.assert_close(sampler.patches_at(rows, cols), sampler.patches(flat))
    spectra = sampler.centre_spectra(flat)
    assert spectra.shape == (3, 4)
    np.testing.assert_array_equal(spectra.numpy(), cube[rows, cols])


def test_batches_cover_every_pixel_once() -> None:
    sampler = PatchSampler(_cube(), 3)
    seen = []
    sizes = []
    for indices, patches in sampler.batches(batch_size=10):
        assert patches.shape == (indices.numel(), 4, 3, 3)
        torch.testing.assert_close(patches[:, :, 1, 1], sampler.centre_spectra(indices))
        seen.append(indices)
        sizes.append(indices.numel())
    everything = torch.cat(seen)
    assert sorted(everything.tolist()) == list(range(63))
    assert sizes == [10] * 6 + [3]
    assert sampler.n_batches(batch_size=10) == 7
    dropped = [i.numel() for i, _ in sampler.batches(batch_size=10, drop_last=True)]
    assert dropped == [10] * 6 and sampler.n_batches(batch_size=10, drop_last=True) == 6
    chosen = [i.tolist() for i, _ in sampler.batches([5, 7, 9], batch_size=2)]
    assert chosen == [[5, 7], [9]]


def test_shuffled_batches_are_reproducible() -> None:
    sampler = PatchSampler(_cube(), 3)

    def order(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        batches = sampler.batches(batch_size=16, shuffle=True, generator=generator)
        return torch.cat([indices for indices, _ in batches]).tolist()

    assert order(7) == order(7)
    assert order(7) != order(8)
    assert order(7) != list(range(63))
    assert sorted(order(7)) == list(range(63))


def test_dtype_device_and_inputs_are_kept() -> None:
    cube = _cube()
    sampler = PatchSampler(torch.from_numpy(cube), 3, dtype=torch.float64, device="cpu")
    patches = sampler.patches([0, 1])
    assert patches.dtype == torch.float64 and sampler.dtype == torch.float64
    assert patches.device == torch.device("cpu") == sampler.device
    assert sampler.padded.shape == (4, 9, 11)
    assert (sampler.height, sampler.width, sampler.n_bands) == (7, 9, 4)
    assert sampler.n_pixels == 63 and sampler.patch_size == 3
    # Patches are copies: changing one leaves the sampler's cube untouched.
    patches.zero_()
    assert sampler.patches([0]).abs().sum() > 0
    integer_cube = (cube * 100).astype(np.int16)
    from_int = PatchSampler(integer_cube, 1)
    assert from_int.dtype == torch.float32
    np.testing.assert_array_equal(from_int.centre_spectra([10]).numpy()[0], integer_cube[1, 1])
    from_scene = PatchSampler(Scene(cube), 3)
    torch.testing.assert_close(from_scene.patches([4]), PatchSampler(cube, 3).patches([4]))
    assert "7 x 9 px" in repr(sampler)


def test_single_pixel_cube() -> None:
    cube = np.array([[[0.5, 2.0, -1.0]]], dtype=np.float32)
    sampler = PatchSampler(cube, 1)
    patches = sampler.patches([0])
    assert patches.shape == (1, 3, 1, 1)
    np.testing.assert_array_equal(patches.numpy().ravel(), cube.ravel())
    reflected = PatchSampler(cube, 3).patches([0])
    expected = np.broadcast_to(cube.reshape(1, 3, 1, 1), (1, 3, 3, 3))
    np.testing.assert_array_equal(reflected.numpy(), expected)
    assert [i.tolist() for i, _ in sampler.batches()] == [[0]]


@pytest.mark.parametrize("patch_size", [0, -1, 2, 4, 2.5, True, "3"])
def test_bad_patch_size(patch_size) -> None:
    with pytest.raises(DataError, match="patch_size"):
        PatchSampler(_cube(), patch_size)


def test_bad_cubes_and_options() -> None:
    with pytest.raises(DataError, match="3 axes"):
        PatchSampler(np.zeros((4, 4)), 3)
    with pytest.raises(DataError, match="empty"):
        PatchSampler(np.zeros((0, 4, 2)), 3)
    cube = _cube()
    cube[2, 3, 1] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        PatchSampler(cube, 3)
    with pytest.raises(DataError, match="padding_mode"):
        PatchSampler(_cube(), 3, padding_mode="circular")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="dtype"):
        PatchSampler(_cube(), 3, dtype=torch.int32)


def test_bad_indices() -> None:
    sampler = PatchSampler(_cube(), 3)
    with pytest.raises(DataError, match="pixel index 63"):
        sampler.patches([0, 63])
    with pytest.raises(DataError, match="pixel index -1"):
        sampler.patches(torch.tensor([-1]))
    with pytest.raises(DataError, match="integers"):
        sampler.patches([0.5])
    with pytest.raises(DataError, match="integers"):
        sampler.centre_spectra(np.array([True, False]))
    with pytest.raises(DataError, match="column 9"):
        sampler.patches_at([0], [9])
    with pytest.raises(DataError, match="row 7"):
        sampler.patches_at([7], [0])
    with pytest.raises(DataError, match="same length"):
        sampler.patches_at([0, 1], [0])
    with pytest.raises(DataError, match="pixel index 100"):
        sampler.batches([1, 100])
    with pytest.raises(DataError, match="batch_size"):
        sampler.batches(batch_size=0)
    assert sampler.patches([]).shape == (0, 4, 3, 3)


def test_salinas_a_real_cube(data_dir: Path) -> None:
    mat = scipy.io.loadmat(data_dir / "hsi/salinas_a/SalinasA_corrected.mat")
    cube = mat["salinasA_corrected"]
    assert cube.shape == (83, 86, 204)
    sampler = PatchSampler(cube, 7)
    height, width = 83, 86
    pixels = _border_and_random_pixels(height, width, 40, seed=1)
    indices = [r * width + c for r, c in pixels]
    expected = _reference_patches(cube.astype(np.float32), 7, "reflect", pixels)
    np.testing.assert_array_equal(sampler.patches(indices).numpy(), expected)
    total = 0
    flat_cube = torch.from_numpy(cube.reshape(-1, 204).astype(np.float32))
    for batch_indices, patches in sampler.batches(batch_size=2048, shuffle=True):
        assert patches.shape[1:] == (204, 7, 7) and patches.shape[0] <= 2048
        torch.testing.assert_close(patches[:, :, 3, 3], flat_cube[batch_indices])
        total += batch_indices.numel()
    assert total == height * width == sampler.n_pixels
