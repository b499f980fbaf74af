"""Data sources: what the `Trainer` iterates over, one protocol for scenes and image sets.

A source serves batches of inputs on the training device by item index, says which items train
(all of them, or a random draw of a given size for epochs of `samples_per_epoch` items), walks
every item once for evaluation (`eval_batches`: tile by tile for a lazy scene), and scores an
assignment against the labels it has (labelled items only; of every item, or of a sample).
A scene source also serves its padded tiles whole (`dense_tiles`), for models that compute every
pixel of a tile in one pass. Both walks take a `shard` (rank, world_size): that process's share
of the tiles (or batches), for prediction split across processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch

from explore.data.images import ImageSet
from explore.data.lazy import (
    PixelTransform,
    default_tile_size,
    read_halo_block,
    read_patches,
    tile_grid,
)
from explore.data.preprocess import SpectralPreprocessor
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError
from explore.metrics import score_dataset

SCORE_KEYS = ("acc", "nmi", "ari", "kappa")

Shard = tuple[int, int]
"""(rank, world_size): a process takes the tiles / batches whose number % world_size == rank."""

DENSE_TILE_CPU = 256
"""Default tile side (pixels) of dense inference on a CPU: measured fastest on this project's
2-core machine (activations of a 256 x 256 tile stay in cache better than 512's)."""
DENSE_TILE_CUDA = 1024
"""Default tile side of dense inference on a GPU (larger tiles keep the device busy)."""


def check_shard(shard: Shard | None) -> Shard:
    """(0, 1) for None; DataError unless 0 <= rank < world_size."""
    if shard is None:
        return (0, 1)
    rank, world_size = (int(v) for v in shard)
    if world_size < 1 or not 0 <= rank < world_size:
        raise DataError(
            f"shard must be (rank, world_size) with 0 <= rank < world_size; got {shard}"
        )
    return rank, world_size


def check_tile_size(tile_size: int | None) -> int | None:
    """`tile_size` as an int (None stays None); DataError unless it is an integer >= 1."""
    if tile_size is None:
        return None
    if isinstance(tile_size, bool) or not isinstance(tile_size, int | np.integer) or tile_size < 1:
        raise DataError(f"tile_size must be an integer >= 1 (pixels a side); got {tile_size!r}")
    return int(tile_size)


class DataSource(Protocol):
    """What the trainer needs from data."""

    n_items: int
    in_channels: int
    assignment_shape: tuple[int, ...]
    has_labels: bool

    @property
    def n_train(self) -> int:
        """How many items train."""
        ...

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Inputs (n, C, P, P) on the device for item indices (a CPU LongTensor)."""
        ...

    def train_indices(self) -> torch.Tensor:
        """The items that train (CPU LongTensor)."""
        ...

    def sample_train(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """`count` training items drawn uniformly with replacement (CPU LongTensor); costs
        O(count), whatever the number of items."""
        ...

    def eval_batches(
        self, batch_size: int, shard: Shard | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(item indices (n,) CPU LongTensor, inputs) covering every item exactly once (with
        `shard`, this process's share of them)."""
        ...

    def score(self, assignments: np.ndarray, indices: np.ndarray | None = None) -> dict[str, float]:
        """Metrics of an assignment on labelled items: of every item (shaped
        `assignment_shape`), or of the items `indices` ((n,) assignments)."""
        ...


def _score_items(
    data: Scene | ImageSet, assignments: np.ndarray, indices: np.ndarray | None
) -> dict[str, float]:
    """`score_dataset`'s metrics of `assignments` (one per item, or per item of `indices`) as
    the plain floats of `SCORE_KEYS`; {} when nothing scored is labelled."""
    chosen = None if indices is None else np.asarray(indices)
    scores = score_dataset(data, np.asarray(assignments).ravel(), chosen)
    if scores is None:
        return {}
    values = scores.as_dict()
    return {key: float(values[key]) for key in SCORE_KEYS}


def window_neighbours(
    indices: torch.Tensor, shape: tuple[int, int], radius: int, generator: torch.Generator
) -> torch.Tensor:
    """For each flat (row-major) pixel index of a `shape` = (height, width) scene, a pixel
    drawn uniformly from the (2 radius + 1)^2 window around it, the window clipped to the scene;
    (B,) CPU indices, drawn with `generator` on its device. The partner pixels of the spatial
    views (`SceneSource.spatial_neighbours`) and of the pool preview's training pair."""
    if radius < 0:
        raise DataError(f"radius must be >= 0; got {radius}")
    height, width = shape
    flat = indices.to(generator.device).long()
    rows, cols = torch.div(flat, width, rounding_mode="floor"), flat % width
    steps = flat.shape
    row_step = torch.randint(-radius, radius + 1, steps, generator=generator, device=flat.device)
    col_step = torch.randint(-radius, radius + 1, steps, generator=generator, device=flat.device)
    rows = (rows + row_step).clamp(0, height - 1)
    cols = (cols + col_step).clamp(0, width - 1)
    return (rows * width + cols).cpu()


class _TrainItems:
    """The training items of a source: all `n_items`, or the subset `_train_items` (a CPU
    LongTensor of item indices) when the source sets one."""

    n_items: int
    _train_items: torch.Tensor | None

    @property
    def n_train(self) -> int:
        return self.n_items if self._train_items is None else len(self._train_items)

    def train_indices(self) -> torch.Tensor:
        return torch.arange(self.n_items) if self._train_items is None else self._train_items

    def sample_train(self, count: int, generator: torch.Generator) -> torch.Tensor:
        positions = torch.randint(self.n_train, (int(count),), generator=generator)
        return positions if self._train_items is None else self._train_items[positions]


class SceneSource(_TrainItems):
    """Pixel-centred patches of a scene; items are pixels in row-major order.

    `preprocessor` (fitted; e.g. standardisation + PCA) maps the scene's bands to the network's
    inputs. An in-memory scene is preprocessed once and its padded cube lives on the device
    (`PatchSampler`). A lazy scene (`Scene.is_lazy`: memory-mapped or windowed) is never loaded
    whole: training patches are read by index, evaluation walks tiles of `tile_size` pixels
    (default: a tile of about 64 MB raw) with a halo of r = patch_size // 2 pixels (reflect
    padding at the scene's border, as in memory), and the preprocessor is applied per batch or
    tile, so results equal those of the in-memory path.

    `train_on`: "all" pixels (default: clustering needs no labels) or "labelled" pixels only
    (the SSCC reference code's choice).

    Dense inference (`dense_tiles`): tiles of `dense_tile_size` pixels a side with their halo of
    r pixels, cut from the padded cube on the device (in memory) or read with
    `read_halo_block` (lazy), so borders equal the patch path's. `tile_size` sets it too
    (default: 256 on a CPU, 1024 on a GPU, at most the lazy read tile)."""

    supports_dense = True

    def __init__(
        self,
        scene: Scene,
        *,
        patch_size: int = 11,
        device: torch.device | str = "cpu",
        train_on: str = "all",
        preprocessor: SpectralPreprocessor | None = None,
        tile_size: int | None = None,
    ) -> None:
        if train_on not in {"all", "labelled"}:
            raise DataError(f"train_on must be 'all' or 'labelled'; got {train_on!r}")
        if train_on == "labelled" and not scene.labelled_mask.any():
            raise DataError(f"train_on='labelled' but scene {scene.name!r} has no labelled pixel")
        if preprocessor is not None:
            preprocessor.check_scene(scene)
        tile_size = check_tile_size(tile_size)
        self.scene = scene
        self.train_on = train_on
        self.preprocessor = preprocessor
        self.patch_size = int(patch_size)
        self.device = torch.device(device)
        self.lazy = scene.is_lazy
        self.n_items = scene.n_pixels
        self.in_channels = preprocessor.n_outputs if preprocessor is not None else scene.n_bands
        self.assignment_shape = scene.shape[:2]
        self.has_labels = scene.labels is not None and bool(scene.labelled_mask.any())
        self._train_items = (
            torch.from_numpy(np.flatnonzero(scene.labelled_mask.ravel()))
            if train_on == "labelled"
            else None
        )
        radius = self.patch_size // 2
        compute_tile = DENSE_TILE_CUDA if self.device.type == "cuda" else DENSE_TILE_CPU
        if self.lazy:
            self.tile_size: int | None = tile_size or default_tile_size(scene.n_bands, radius)
            self.dense_tile_size = tile_size or min(self.tile_size, compute_tile)
            self.sampler: PatchSampler | None = None
        else:
            self.tile_size = None
            self.dense_tile_size = tile_size or compute_tile
            prepared = preprocessor.transform(scene) if preprocessor is not None else scene
            self.sampler = PatchSampler(prepared.cube, self.patch_size, device=self.device)

    def _transform(self) -> PixelTransform | None:
        return None if self.preprocessor is None else self.preprocessor.transform_pixels

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        if self.sampler is not None:
            return self.sampler.patches(indices)
        flat = indices.detach().cpu().numpy().astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n_items):
            raise DataError(f"pixel indices must lie in [0, {self.n_items})")
        width = self.scene.shape[1]
        patches = read_patches(
            self.scene.cube,
            flat // width,
            flat % width,
            self.patch_size,
            transform=self._transform(),
        )
        tensor = torch.from_numpy(np.ascontiguousarray(patches.transpose(0, 3, 1, 2)))
        return tensor.to(self.device)

    def spatial_neighbours(
        self, indices: torch.Tensor, radius: int, generator: torch.Generator
    ) -> torch.Tensor:
        """For each pixel index (flat, row-major), a pixel drawn uniformly from the
        (2 radius + 1)^2 window around it, the window clipped to the scene (so border pixels
        draw more often from the edge); (B,) CPU indices. Drawn with `generator` on its
        device, so the draws follow the augmentation stream (and resume exactly)."""
        return window_neighbours(indices, self.scene.shape[:2], radius, generator)

    def eval_batches(
        self, batch_size: int, shard: Shard | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world_size = check_shard(shard)
        if self.sampler is not None:
            starts = range(0, self.n_items, batch_size)
            for start in list(starts)[rank::world_size]:
                indices = torch.arange(start, min(start + batch_size, self.n_items))
                yield indices, self.sampler.patches(indices)
            return
        width = self.scene.shape[1]
        radius = self.patch_size // 2
        tiles = list(tile_grid(*self.scene.shape[:2], int(self.tile_size or 1)))
        for rows, cols in tiles[rank::world_size]:
            block = read_halo_block(
                self.scene.cube,
                rows,
                cols,
                radius,
                transform=self._transform(),
            )
            tile = PatchSampler(block, self.patch_size, device=self.device, padded=True)
            global_index = _tile_indices(rows, cols, width)
            for local, patches in tile.batches(batch_size=batch_size):
                yield global_index[local.cpu()], patches

    def dense_tiles(
        self, shard: Shard | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(item indices (h * w,) CPU LongTensor, row-major over the tile; padded tile
        (1, C, h + 2r, w + 2r) on the device) for every tile of `dense_tile_size` pixels (this
        process's share with `shard`): patch (i, j) of the tile is the patch the sampler cuts
        for that pixel, border padding included. Memory: one tile at a time."""
        rank, world_size = check_shard(shard)
        height, width = self.scene.shape[:2]
        radius = self.patch_size // 2
        tiles = list(tile_grid(height, width, self.dense_tile_size))
        for rows, cols in tiles[rank::world_size]:
            if self.sampler is not None:
                padded = self.sampler.padded  # (C, H + 2r, W + 2r), on the device
                block = padded[
                    :, rows.start : rows.stop + 2 * radius, cols.start : cols.stop + 2 * radius
                ]
            else:
                read = read_halo_block(
                    self.scene.cube, rows, cols, radius, transform=self._transform()
                )  # (h + 2r, w + 2r, C) float32
                block = torch.from_numpy(read).to(self.device).permute(2, 0, 1)
            yield _tile_indices(rows, cols, width), block.unsqueeze(0)

    def score(self, assignments: np.ndarray, indices: np.ndarray | None = None) -> dict[str, float]:
        if not self.has_labels:
            return {}
        return _score_items(self.scene, assignments, indices)


def _tile_indices(rows: slice, cols: slice, width: int) -> torch.Tensor:
    """Flat row-major indices (h * w,) of the pixels of tile `rows` x `cols`."""
    tile_rows = torch.arange(rows.start, rows.stop)[:, None]
    tile_cols = torch.arange(cols.start, cols.stop)[None, :]
    return (tile_rows * width + tile_cols).reshape(-1)


class ImageSource(_TrainItems):
    """Whole images of an `ImageSet`, held once on the device (N, C, H, W) in [0, 1]; items are
    images; unknown labels (-1) are not scored.

    `train_items` (item indices) makes only those images train, e.g. fine-tuning keeps a
    held-out part of a labelled set for its probe; default: every image. `batch_labels` gives a
    batch's labels on the device, for supervised losses."""

    def __init__(
        self,
        images: ImageSet,
        *,
        device: torch.device | str = "cpu",
        train_items: np.ndarray | None = None,
    ) -> None:
        self.images = images
        self.tensor = images.to_tensor(device)
        self.n_items = images.n_images
        self.in_channels = images.n_channels
        self.assignment_shape = (images.n_images,)
        self.has_labels = bool((images.item_classes() >= 0).any())
        self._train_items: torch.Tensor | None = None
        if train_items is not None:
            items = np.asarray(train_items)
            if items.ndim != 1 or not np.issubdtype(items.dtype, np.integer):
                raise DataError("train_items must be a 1-D array of image indices")
            if items.size and (items.min() < 0 or items.max() >= self.n_items):
                raise DataError(f"train_items must lie in [0, {self.n_items})")
            self._train_items = torch.from_numpy(items.astype(np.int64))
        self._labels: torch.Tensor | None = None

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self.tensor[indices.to(self.tensor.device)]

    def batch_labels(self, indices: torch.Tensor) -> torch.Tensor:
        """Labels (n,) int64 on the device of the images `indices` (-1: unknown)."""
        if self.images.labels is None:
            raise DataError(f"image set {self.images.name!r} has no labels")
        if self._labels is None:
            labels = np.asarray(self.images.labels, dtype=np.int64)
            self._labels = torch.from_numpy(labels).to(self.tensor.device)
        return self._labels[indices.to(self.tensor.device)]

    def eval_batches(
        self, batch_size: int, shard: Shard | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world_size = check_shard(shard)
        for start in list(range(0, self.n_items, batch_size))[rank::world_size]:
            indices = torch.arange(start, min(start + batch_size, self.n_items))
            yield indices, self.batch(indices)

    def score(self, assignments: np.ndarray, indices: np.ndarray | None = None) -> dict[str, float]:
        if not self.has_labels:
            return {}
        return _score_items(self.images, assignments, indices)
