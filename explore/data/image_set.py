"""`ImageSet`: a stack of small 2-D images with class labels, the container used by the
image-clustering methods (natural and remote-sensing scenes, digits). It validates, once,
whatever a reader produces (`explore.data.image_readers`), and gives the operations that return
new sets (subset, per_class, resize, to_grayscale, to_rgb).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from explore.data.image_resize import _check_size, _resize_array
from explore.errors import DataError

# Values may exceed [0, 1] by this much (float rounding in a reader) and are then clipped.
_RANGE_TOLERANCE = 1e-5
# Luma weights of ITU-R BT.601, the ones Pillow uses for its RGB -> "L" conversion.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True, eq=False)
class ImageSet:
    """N images (N, C, H, W) float32 in [0, 1], C = 1 (grayscale) or 3 (RGB), with labels.

    `labels` (N,) int64 holds 0..n_classes-1 for classes and -1 for images of unknown class;
    it is None when nothing is known. `class_names[c]` names class c; when labels are given
    without names, the names default to "0", "1", ... Operations return new sets: a loaded
    set is never changed in place.
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    name: str = "images"

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim != 4:
            raise DataError(f"images must have 4 axes (N, C, H, W); got shape {images.shape}")
        n_images, channels, height, width = images.shape
        if n_images < 1:
            raise DataError("an image set needs at least one image; got 0")
        if channels not in (1, 3):
            raise DataError(
                f"images must have 1 (grayscale) or 3 (RGB) channels on axis 1; got {channels} "
                f"(shape {images.shape}; channels-last arrays must be transposed first)"
            )
        if height < 1 or width < 1:
            raise DataError(f"images are empty: shape {images.shape}")
        if not np.issubdtype(images.dtype, np.floating):
            raise DataError(
                f"images must be floats in [0, 1]; got dtype {images.dtype} "
                "(divide uint8 images by 255 first)"
            )
        images = np.ascontiguousarray(images, dtype=np.float32)
        finite = np.isfinite(images)
        if not finite.all():
            first = tuple(int(v) for v in np.argwhere(~finite)[0])
            raise DataError(
                f"images hold {int((~finite).sum())} non-finite values (first at index {first})"
            )
        low, high = float(images.min()), float(images.max())
        if low < -_RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
            raise DataError(f"image values must lie in [0, 1]; got range [{low:.6g}, {high:.6g}]")
        if low < 0.0 or high > 1.0:
            images = np.clip(images, 0.0, 1.0)
        object.__setattr__(self, "images", images)

        names = tuple(str(name) for name in self.class_names)
        if len(set(names)) != len(names):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            raise DataError(f"class_names must be unique; repeated: {duplicates}")
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.ndim != 1 or labels.shape[0] != n_images:
                raise DataError(
                    f"labels must have shape ({n_images},), one per image; got {labels.shape}"
                )
            if not np.issubdtype(labels.dtype, np.integer):
                raise DataError(f"labels must be integers; got dtype {labels.dtype}")
            labels = labels.astype(np.int64)
            if not names:
                names = tuple(str(c) for c in range(max(int(labels.max()) + 1, 0)))
            if labels.min() < -1 or labels.max() >= len(names):
                raise DataError(
                    f"labels must lie in [-1, {len(names)}) (-1 = unknown) for {len(names)} "
                    f"classes; got range [{labels.min()}, {labels.max()}]"
                )
            object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "name", str(self.name))

    # ------------------------------------------------------------------ shape and labels
    @property
    def n_images(self) -> int:
        return self.images.shape[0]

    @property
    def n_items(self) -> int:
        """Items a method clusters: the images (the name every dataset shares)."""
        return self.n_images

    def item_classes(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(n_items,) int64 class of each image (or of the images `indices`) in the one
        convention every dataset shares: 0..C-1, -1 for an image of unknown class (all -1
        without labels)."""
        count = self.n_images if indices is None else len(indices)
        if self.labels is None:
            return np.full(count, -1, dtype=np.int64)
        labels = np.asarray(self.labels)
        chosen = labels if indices is None else labels[np.asarray(indices)]
        return chosen.astype(np.int64)

    @property
    def n_classes(self) -> int:
        """Number of named classes (0 when the set has no labels and no names)."""
        return len(self.class_names)

    @property
    def n_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return self.images.shape[1:]  # type: ignore[return-value]

    def class_counts(self) -> dict[int, int]:
        """Images per class 0..n_classes-1 (images of unknown class, -1, excluded)."""
        if self.labels is None:
            return {}
        known = self.labels[self.labels >= 0]
        counts = np.bincount(known, minlength=self.n_classes)
        return {c: int(counts[c]) for c in range(self.n_classes)}

    def to_tensor(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """The images as a (N, C, H, W) float32 tensor on `device` (shares memory on CPU)."""
        return torch.from_numpy(self.images).to(device)

    # ------------------------------------------------------------------ selections
    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageSet:
        """A new set of the images at `indices` (integer positions, or a boolean mask of
        length N), in the given order; class names are kept even for classes left empty."""
        selection = np.asarray(indices)
        if selection.dtype == bool:
            if selection.shape != (self.n_images,):
                raise DataError(
                    f"a boolean subset mask must have shape ({self.n_images},); "
                    f"got {selection.shape}"
                )
            selection = np.flatnonzero(selection)
        elif selection.size == 0:
            selection = selection.astype(np.int64)
        elif not np.issubdtype(selection.dtype, np.integer):
            raise DataError(f"subset indices must be integers; got dtype {selection.dtype}")
        selection = selection.reshape(-1)
        if selection.size == 0:
            raise DataError(f"subset of image set {self.name!r} is empty")
        if selection.min() < 0 or selection.max() >= self.n_images:
            bad = selection[(selection < 0) | (selection >= self.n_images)][0]
            raise DataError(
                f"subset index {int(bad)} is out of range for {self.n_images} images "
                "(indices must lie in [0, N))"
            )
        labels = None if self.labels is None else self.labels[selection]
        return replace(self, images=self.images[selection], labels=labels)

    def per_class(self, n: int, seed: int | None = None) -> ImageSet:
        """A new set with at most `n` images of each class: the first `n` in order when `seed`
        is None, else `n` drawn at random without replacement (reproducible for a seed).
        Images of unknown class are dropped; the result keeps the original order."""
        if self.labels is None:
            raise DataError(f"image set {self.name!r} has no labels: per_class needs them")
        if int(n) < 1:
            raise DataError(f"per_class needs n >= 1; got {n}")
        rng = None if seed is None else np.random.default_rng(seed)
        chosen = []
        for c in range(self.n_classes):
            members = np.flatnonzero(self.labels == c)
            if rng is not None and members.size > n:
                members = rng.choice(members, size=int(n), replace=False)
            chosen.append(members[: int(n)])
        selection = np.sort(np.concatenate(chosen))
        if selection.size == 0:
            raise DataError(f"image set {self.name!r} holds no labelled image")
        return self.subset(selection)

    # ------------------------------------------------------------------ transformations
    def resize(self, height: int, width: int) -> ImageSet:
        """A new set with every image resized to (height, width): bilinear interpolation with
        antialiasing (so downscaling averages rather than aliases), values clipped to [0, 1]."""
        height, width = _check_size(height, width)
        if (height, width) == self.images.shape[2:]:
            return self
        return replace(self, images=_resize_array(self.images, height, width))

    def to_grayscale(self) -> ImageSet:
        """A new 1-channel set (ITU-R BT.601 luma, as Pillow's "L" mode); unchanged if gray."""
        if self.n_channels == 1:
            return self
        weights = np.asarray(_LUMA_WEIGHTS, dtype=np.float32).reshape(1, 3, 1, 1)
        gray = (self.images * weights).sum(axis=1, keepdims=True, dtype=np.float32)
        return replace(self, images=np.clip(gray, 0.0, 1.0))

    def to_rgb(self) -> ImageSet:
        """A new 3-channel set (the gray channel repeated); unchanged if already RGB."""
        if self.n_channels == 3:
            return self
        return replace(self, images=np.repeat(self.images, 3, axis=1))

    def __repr__(self) -> str:
        channels, height, width = self.image_shape
        known = self.n_images if self.labels is None else int((self.labels >= 0).sum())
        labelled = "no labels" if self.labels is None else f"{known} labelled"
        return (
            f"ImageSet({self.name!r}, {self.n_images} images of {channels} x {height} x {width}, "
            f"{self.n_classes} classes, {labelled})"
        )
