"""`PatchSampler`: pixel-centred square patches cut lazily, in batches, from a hyperspectral cube.

The sampler owns the device copy of a (padded) cube and the index arithmetic that turns pixel
indices into patches. It never builds all patches of a scene: each call gathers only the patches
asked for, with one advanced-indexing operation, so memory is bounded by the batch size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from explore.data.lazy import source_positions
from explore.data.scene import Scene
from explore.errors import DataError

PaddingMode = Literal["reflect", "replicate", "zeros"]
_PADDING_MODES = ("reflect", "replicate", "zeros")


def _border_index(size: int, radius: int, mode: str, device: torch.device) -> torch.Tensor:
    """Source position, in [0, size), of each of the `size + 2 * radius` padded positions
    (`explore.data.lazy.source_positions`, shared with the tiled, lazy reads)."""
    positions = source_positions(np.arange(-radius, size + radius), size, mode)
    return torch.from_numpy(positions).to(device)


class PatchSampler:
    """Cut (B, p, p) patches centred on pixels of a (H, W, B) cube held on a torch device.

    The cube is stored once, padded by r = p // 2 on every side, as a (B, H + 2r, W + 2r)
    tensor of `dtype` on `device`. Borders are filled by `padding_mode`: "reflect" (mirror
    without repeating the edge pixel, as `numpy.pad(mode="reflect")`; works for any cube
    size, also when r >= H or W, by reflecting repeatedly like numpy), "replicate" (repeat the
    edge pixel) or "zeros".

    Pixels are addressed by flat row-major index i = row * W + col, as `Scene.pixels()`.

    `padded=True` takes a cube that already carries r pixels of context on every side (a tile
    read with its halo, `explore.data.lazy.read_halo_block`): it is stored as given, patches are
    centred on its inner (H - 2r, W - 2r) pixels and `padding_mode` is not used.
    """

    def __init__(
        self,
        cube: np.ndarray | torch.Tensor | Scene,
        patch_size: int = 11,
        *,
        device: str | torch.device = "cpu",
        padding_mode: PaddingMode = "reflect",
        dtype: torch.dtype = torch.float32,
        padded: bool = False,
    ) -> None:
        if isinstance(cube, Scene):
            cube = cube.cube
        if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)):
            raise DataError(f"patch_size must be an odd integer >= 1; got {patch_size!r}")
        if patch_size < 1 or patch_size % 2 == 0:
            raise DataError(f"patch_size must be an odd integer >= 1; got {patch_size}")
        if padding_mode not in _PADDING_MODES:
            raise DataError(f"padding_mode must be one of {_PADDING_MODES}; got {padding_mode!r}")
        if not dtype.is_floating_point:
            raise DataError(f"dtype must be a floating-point torch dtype; got {dtype}")
        self._device = torch.device(device)
        tensor = torch.as_tensor(cube) if not isinstance(cube, torch.Tensor) else cube
        if tensor.ndim != 3:
            raise DataError(f"cube must have 3 axes (H, W, bands); got shape {tuple(tensor.shape)}")
        if min(tensor.shape) == 0:
            raise DataError(f"cube is empty: shape {tuple(tensor.shape)}")
        if tensor.is_complex() or tensor.dtype == torch.bool:
            raise DataError(f"cube must be real-valued numbers; got dtype {tensor.dtype}")
        tensor = tensor.to(device=self._device, dtype=dtype)
        if not torch.isfinite(tensor).all():
            raise DataError(
                "cube holds non-finite values (NaN or Inf, possibly after conversion to "
                f"{dtype}); fill or drop them before sampling"
            )
        self._height, self._width, self._n_bands = (int(s) for s in tensor.shape)
        self._patch_size = int(patch_size)
        self._radius = self._patch_size // 2
        self._padding_mode = padding_mode
        if padded:
            self._height -= 2 * self._radius
            self._width -= 2 * self._radius
            if min(self._height, self._width) < 1:
                raise DataError(
                    f"a padded cube of shape {tuple(tensor.shape)} has no inner pixel for "
                    f"patches of {patch_size} (it needs more than {2 * self._radius} rows and "
                    "columns)"
                )
            self._padded = tensor.permute(2, 0, 1).contiguous()
        else:
            self._padded = self._pad(tensor.permute(2, 0, 1))
        # A (H, W, B, p, p) view of the padded cube: window [h, w] is the patch centred on
        # pixel (h, w). Indexing its first two axes cuts patches without copying the cube.
        band_stride, row_stride, col_stride = self._padded.stride()
        self._windows = self._padded.as_strided(
            (self._height, self._width, self._n_bands, self._patch_size, self._patch_size),
            (row_stride, col_stride, band_stride, row_stride, col_stride),
        )

    def _pad(self, cube: torch.Tensor) -> torch.Tensor:
        """(B, H, W) -> contiguous (B, H + 2r, W + 2r)."""
        radius = self._radius
        if radius == 0:
            return cube.contiguous()
        if self._padding_mode == "zeros":
            return F.pad(cube, (radius, radius, radius, radius), mode="constant", value=0.0)
        rows = _border_index(self._height, radius, self._padding_mode, cube.device)
        cols = _border_index(self._width, radius, self._padding_mode, cube.device)
        return cube[:, rows[:, None], cols[None, :]].contiguous()

    # ------------------------------------------------------------------ properties
    @property
    def height(self) -> int:
        return self._height

    @property
    def width(self) -> int:
        return self._width

    @property
    def n_bands(self) -> int:
        return self._n_bands

    @property
    def n_pixels(self) -> int:
        return self._height * self._width

    @property
    def patch_size(self) -> int:
        return self._patch_size

    @property
    def padding_mode(self) -> str:
        return self._padding_mode

    @property
    def device(self) -> torch.device:
        return self._padded.device

    @property
    def dtype(self) -> torch.dtype:
        return self._padded.dtype

    @property
    def padded(self) -> torch.Tensor:
        """The stored (B, H + 2r, W + 2r) padded cube (do not modify it)."""
        return self._padded

    # ------------------------------------------------------------------ indices
    def _as_index_tensor(
        self, values: Sequence[int] | np.ndarray | torch.Tensor, what: str
    ) -> torch.Tensor:
        """Any 1-D integer sequence -> int64 tensor on the sampler's device."""
        if isinstance(values, torch.Tensor):
            tensor = values.detach()
        else:
            array = np.asarray(values)
            if array.size == 0:
                array = array.astype(np.int64)
            tensor = torch.from_numpy(np.ascontiguousarray(array))
        if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
            raise DataError(f"{what} must be integers; got dtype {tensor.dtype}")
        return tensor.reshape(-1).to(device=self._device, dtype=torch.long)

    @staticmethod
    def _check_range(values: torch.Tensor, limit: int, what: str) -> None:
        if values.numel() == 0:
            return
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= limit:
            bad = low if low < 0 else high
            raise DataError(f"{what} {bad} is out of range: must lie in [0, {limit})")

    def _indices(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        flat = self._as_index_tensor(indices, "pixel indices")
        self._check_range(flat, self.n_pixels, "pixel index")
        return flat

    def _coordinates(
        self,
        rows: Sequence[int] | np.ndarray | torch.Tensor,
        cols: Sequence[int] | np.ndarray | torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        row_tensor = self._as_index_tensor(rows, "rows")
        col_tensor = self._as_index_tensor(cols, "cols")
        if row_tensor.shape != col_tensor.shape:
            raise DataError(
                f"rows and cols must have the same length; got {row_tensor.numel()} rows and "
                f"{col_tensor.numel()} cols"
            )
        self._check_range(row_tensor, self._height, "row")
        self._check_range(col_tensor, self._width, "column")
        return row_tensor, col_tensor

    # ------------------------------------------------------------------ patches
    def _gather(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """(n, B, p, p) patches centred on pixels (rows, cols) of the original cube: one
        advanced-indexing gather from the window view (no loop over samples)."""
        return self._windows[rows, cols]

    def patches(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """(n, B, p, p) patches centred on the pixels with flat indices `indices` (n,),
        i = row * W + col. Out-of-range indices raise DataError."""
        flat = self._indices(indices)
        return self._gather(flat // self._width, flat % self._width)

    def patches_at(
        self,
        rows: Sequence[int] | np.ndarray | torch.Tensor,
        cols: Sequence[int] | np.ndarray | torch.Tensor,
    ) -> torch.Tensor:
        """(n, B, p, p) patches centred on pixels (rows[k], cols[k])."""
        row_tensor, col_tensor = self._coordinates(rows, cols)
        return self._gather(row_tensor, col_tensor)

    def centre_spectra(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """(n, B) spectra of the pixels with flat indices `indices` (a patch's centre only)."""
        flat = self._indices(indices)
        rows = flat // self._width + self._radius
        cols = flat % self._width + self._radius
        return self._padded[:, rows, cols].transpose(0, 1).contiguous()

    def batches(
        self,
        indices: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        batch_size: int = 1024,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Iterate over (indices (n,), patches (n, B, p, p)) for the given pixels (default:
        every pixel, row-major), `batch_size` at a time; each pixel comes once per pass.

        `shuffle` permutes the pixels first, with `generator` (a CPU `torch.Generator`) for
        reproducible orders; `drop_last` drops a final batch smaller than `batch_size`.
        Indices are checked before the first batch is cut.
        """
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise DataError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        batch_size = int(batch_size)
        if indices is None:
            selection = torch.arange(self.n_pixels, device=self._device)
        else:
            selection = self._indices(indices)
        if shuffle:
            order = torch.randperm(selection.numel(), generator=generator)
            selection = selection[order.to(self._device)]
        return self._iterate(selection, batch_size, drop_last)

    def _iterate(
        self, selection: torch.Tensor, batch_size: int, drop_last: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, selection.numel(), batch_size):
            chunk = selection[start : start + batch_size]
            if drop_last and chunk.numel() < batch_size:
                return
            yield chunk, self._gather(chunk // self._width, chunk % self._width)

    def n_batches(
        self, n_indices: int | None = None, batch_size: int = 1024, *, drop_last: bool = False
    ) -> int:
        """Number of batches `batches` yields for `n_indices` pixels (default: all pixels)."""
        if int(batch_size) < 1:
            raise DataError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        count = self.n_pixels if n_indices is None else int(n_indices)
        return count // batch_size if drop_last else -(-count // batch_size)

    def __repr__(self) -> str:
        return (
            f"PatchSampler({self._height} x {self._width} px, {self._n_bands} bands, "
            f"patch {self._patch_size}, {self._padding_mode!r}, {self.dtype}, {self.device})"
        )
