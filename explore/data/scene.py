"""`Scene`: one hyperspectral image with its ground truth and metadata.

A scene is immutable: band selection, standardisation and PCA return new scenes, so a user's
loaded data is never changed in place. Validation happens here, once, for every reader.

A scene may be lazy (`is_lazy`): its cube is a read-only memory map or a `WindowedCube`
(`explore.data.lazy`), kept in its stored dtype and read window by window; its values are
checked for NaN / Inf as windows are read rather than up front. Labels are always in memory.

A scene read from a georeferenced file (GeoTIFF) keeps its `Georeference` (CRS and pixel grid),
moved along by `crop`, so that maps predicted for it can be written georeferenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from explore.data.lazy import first_non_finite, gather_pixels, is_lazy
from explore.errors import DataError

# Wavelengths (nm) picked for a natural-colour composite when the scene's wavelengths are known.
_NATURAL_RGB_NM = (640.0, 550.0, 460.0)


@dataclass(frozen=True)
class Georeference:
    """Where a scene's pixels lie on the ground: `crs` (WKT text, or None when the file gives
    none) and `transform`, the affine coefficients (a, b, c, d, e, f) taking pixel (column,
    row) corners to map coordinates, x = a * col + b * row + c, y = d * col + e * row + f
    (rasterio's / affine's order)."""

    crs: str | None
    transform: tuple[float, float, float, float, float, float]

    def __post_init__(self) -> None:
        transform = tuple(float(v) for v in self.transform)
        if len(transform) != 6 or not all(np.isfinite(transform)):
            raise DataError(f"a georeference needs 6 finite affine coefficients; got {transform}")
        object.__setattr__(self, "transform", transform)

    def shifted(self, row: int, col: int) -> Georeference:
        """The georeference of a window whose first pixel is (row, col) of this grid."""
        a, b, c, d, e, f = self.transform
        return Georeference(self.crs, (a, b, a * col + b * row + c, d, e, d * col + e * row + f))


def remap_labels(labels: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Map the non-zero label values of `labels` to 1..C (0 stays unlabelled).

    Returns the remapped map (uint8 when C < 256, else int32) and the original value of each
    class, so that class c (1-based) was `original[c - 1]` in the file.
    """
    values = np.unique(labels)
    original = tuple(int(v) for v in values if v != 0)
    lookup = {value: index + 1 for index, value in enumerate(original)}
    dtype = np.uint8 if len(original) < 256 else np.int32
    remapped = np.zeros(labels.shape, dtype=dtype)
    for value, new in lookup.items():
        remapped[labels == value] = new
    return remapped, original


def _validate_lazy_cube(cube: np.ndarray) -> np.ndarray:
    """Shape and dtype checks of a memory-mapped or windowed cube, reading no data (values are
    checked window by window when read)."""
    if cube.ndim != 3:
        raise DataError(f"cube must have 3 axes (H, W, bands); got shape {cube.shape}")
    if min(cube.shape) == 0:
        raise DataError(f"cube is empty: shape {cube.shape}")
    if not np.issubdtype(cube.dtype, np.number) or np.issubdtype(cube.dtype, np.complexfloating):
        raise DataError(f"a lazy cube must hold real numbers; got dtype {cube.dtype}")
    return cube


def _validate_cube(cube: np.ndarray) -> np.ndarray:
    if is_lazy(cube):
        return _validate_lazy_cube(cube)
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise DataError(f"cube must have 3 axes (H, W, bands); got shape {cube.shape}")
    if min(cube.shape) == 0:
        raise DataError(f"cube is empty: shape {cube.shape}")
    if not (np.issubdtype(cube.dtype, np.number) or cube.dtype == bool):
        raise DataError(f"cube must be numeric; got dtype {cube.dtype}")
    if np.iscomplexobj(cube):
        raise DataError("cube must be real-valued; got a complex array")
    if cube.dtype not in (np.float32, np.float64):
        cube = cube.astype(np.float32)
    found = first_non_finite(cube)
    if found is not None:
        count, kind, row, col, band = found
        raise DataError(
            f"cube holds {count} non-finite values ({kind} first at row {row}, column {col}, "
            f"band {band}); fill or drop them before building a scene"
        )
    return cube


@dataclass(frozen=True, eq=False)
class Scene:
    """A hyperspectral cube (H, W, B) with optional labels (H, W) and metadata.

    Labels use 0 for unlabelled pixels and 1..C for classes; any other set of non-zero values
    is remapped to 1..C on construction, and `label_values` keeps each class's value in the file.
    `class_names[c - 1]` names class c. `wavelengths` (nm, one per band) are optional.
    `georeference` (a `Georeference`) places the pixels on the ground, when the file did.
    """

    cube: np.ndarray
    labels: np.ndarray | None = None
    name: str = "scene"
    class_names: tuple[str, ...] = ()
    wavelengths: np.ndarray | None = None
    rgb_bands: tuple[int, int, int] | None = None
    label_values: tuple[int, ...] = field(default=())
    georeference: Georeference | None = None

    def __post_init__(self) -> None:
        cube = _validate_cube(self.cube)
        object.__setattr__(self, "cube", cube)
        height, width, n_bands = cube.shape
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (height, width):
                raise DataError(
                    f"labels must have the cube's spatial shape {(height, width)}; "
                    f"got {labels.shape}"
                )
            if not (
                np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_)
            ):
                if not np.issubdtype(labels.dtype, np.floating) or not np.all(np.isfinite(labels)):
                    raise DataError(f"labels must be integers; got dtype {labels.dtype}")
                if not np.all(labels == np.round(labels)):
                    raise DataError("labels must be whole numbers; got fractional values")
                if labels.size and np.abs(labels).max() > np.iinfo(np.int32).max:
                    raise DataError(
                        f"labels must be class numbers; got values up to {np.abs(labels).max():g}"
                    )
                labels = labels.astype(np.int64)
            if labels.min() < 0:
                raise DataError(f"labels must be >= 0 (0 = unlabelled); got minimum {labels.min()}")
            remapped, original = remap_labels(labels)
            object.__setattr__(self, "labels", remapped)
            if not self.label_values:
                object.__setattr__(self, "label_values", original)
            elif len(self.label_values) != len(original):
                raise DataError(
                    f"label_values lists {len(self.label_values)} classes but labels hold "
                    f"{len(original)}"
                )
            if self.class_names and len(self.class_names) != len(original):
                raise DataError(
                    f"class_names has {len(self.class_names)} names but labels hold "
                    f"{len(original)} classes"
                )
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.wavelengths is not None:
            wavelengths = np.asarray(self.wavelengths, dtype=np.float64).ravel()
            if wavelengths.shape != (n_bands,):
                raise DataError(
                    f"wavelengths must give one value per band ({n_bands}); got {wavelengths.size}"
                )
            object.__setattr__(self, "wavelengths", wavelengths)
        if self.georeference is not None and not isinstance(self.georeference, Georeference):
            raise DataError(
                f"georeference must be a Georeference; got {type(self.georeference).__name__}"
            )
        if self.rgb_bands is not None:
            bands = tuple(int(b) for b in self.rgb_bands)
            if len(bands) != 3 or any(not 0 <= b < n_bands for b in bands):
                raise DataError(f"rgb_bands must be 3 band indices in [0, {n_bands}); got {bands}")
            object.__setattr__(self, "rgb_bands", bands)

    # ------------------------------------------------------------------ shape and labels
    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, B)."""
        return self.cube.shape  # type: ignore[return-value]

    @property
    def n_bands(self) -> int:
        return self.cube.shape[2]

    @property
    def n_pixels(self) -> int:
        return self.cube.shape[0] * self.cube.shape[1]

    @property
    def is_lazy(self) -> bool:
        """Whether the cube is read on demand (memory map or windowed file), not in memory."""
        return is_lazy(self.cube)

    @property
    def n_classes(self) -> int:
        """Number of labelled classes (0 when the scene has no labels)."""
        return len(self.label_values) if self.labels is not None else 0

    @property
    def n_items(self) -> int:
        """Items a method clusters: the scene's pixels (the name every dataset shares)."""
        return self.n_pixels

    def item_classes(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(n_items,) int64 class of each pixel in row-major order (or of the flat `indices`),
        in the one convention every dataset shares: 0..C-1 for classes 1..C, -1 for unlabelled
        pixels (all -1 without labels). Scoring reads this, not the stored 0 = unlabelled map."""
        count = self.n_pixels if indices is None else len(indices)
        if self.labels is None:
            return np.full(count, -1, dtype=np.int64)
        flat = np.asarray(self.labels).ravel()
        chosen = flat if indices is None else flat[np.asarray(indices)]
        return chosen.astype(np.int64) - 1

    @property
    def labelled_mask(self) -> np.ndarray:
        """(H, W) bool: pixels with a class label."""
        if self.labels is None:
            return np.zeros(self.cube.shape[:2], dtype=bool)
        return self.labels > 0

    def class_counts(self) -> dict[int, int]:
        """Pixels per class 1..C (unlabelled pixels excluded)."""
        if self.labels is None:
            return {}
        counts = np.bincount(self.labels.ravel(), minlength=self.n_classes + 1)
        return {c: int(counts[c]) for c in range(1, self.n_classes + 1)}

    def pixels(self) -> np.ndarray:
        """The cube as a (H * W, B) matrix, row-major over pixels (a view, not a copy, for an
        in-memory cube; a windowed cube is read whole)."""
        return np.asarray(self.cube).reshape(-1, self.n_bands)

    def sample_pixels(self, count: int, *, seed: int = 0) -> np.ndarray:
        """(n, B) spectra of min(count, H * W) pixels drawn without replacement (every pixel,
        in order, when the scene has at most `count`). A lazy scene reads only those pixels, in
        sorted chunks; the pixels drawn are the same as for the same scene in memory."""
        n_pixels = self.n_pixels
        if n_pixels <= count:
            indices = None
        else:
            indices = np.random.default_rng(seed).choice(n_pixels, count, replace=False)
        if not self.is_lazy:
            pixels = self.pixels()
            return pixels if indices is None else pixels[indices]
        if indices is None:
            indices = np.arange(n_pixels)
        return gather_pixels(self.cube, indices)

    def default_rgb_bands(self) -> tuple[int, int, int]:
        """Bands for a false-colour composite: `rgb_bands`, else nearest to 640/550/460 nm,
        else bands at 3/4, 1/2 and 1/4 of the band range."""
        if self.rgb_bands is not None:
            return self.rgb_bands
        if self.wavelengths is not None:
            picks = [int(np.argmin(np.abs(self.wavelengths - nm))) for nm in _NATURAL_RGB_NM]
            return (picks[0], picks[1], picks[2])
        last = self.n_bands - 1
        return (round(last * 0.75), round(last * 0.5), round(last * 0.25))

    def composite(
        self, bands: Sequence[int] | None = None, percentiles: tuple[float, float] = (2.0, 98.0)
    ) -> np.ndarray:
        """(H, W, 3) float32 image in [0, 1] from three bands, each stretched between the
        given percentiles (robust to the few saturated pixels common in airborne scenes)."""
        bands = tuple(self.default_rgb_bands() if bands is None else bands)
        self._check_band_indices(bands)
        if len(bands) != 3:
            raise DataError(f"a composite needs 3 bands; got {len(bands)}")
        channels = []
        for band in bands:
            channel = self.cube[:, :, band].astype(np.float32)
            low, high = np.percentile(channel, percentiles)
            scale = high - low if high > low else 1.0
            channels.append(np.clip((channel - low) / scale, 0.0, 1.0))
        return np.stack(channels, axis=-1)

    # ------------------------------------------------------------------ transformations
    def _check_band_indices(self, indices: Sequence[int]) -> None:
        for index in indices:
            if not -self.n_bands <= int(index) < self.n_bands:
                raise DataError(
                    f"band index {index} is out of range for a scene with {self.n_bands} bands"
                )

    def select_bands(
        self,
        indices: Sequence[int] | None = None,
        *,
        band_range: tuple[int, int] | None = None,
        wavelength_range: tuple[float, float] | None = None,
    ) -> Scene:
        """A new scene with a subset of bands, given by exactly one of: an index list,
        a half-open index range `(start, stop)`, or an inclusive wavelength range in nm."""
        given = [x is not None for x in (indices, band_range, wavelength_range)]
        if sum(given) != 1:
            raise DataError(
                "select_bands takes exactly one of indices, band_range, wavelength_range"
            )
        if indices is not None:
            selected = [int(i) for i in indices]
            self._check_band_indices(selected)
            selected = [i % self.n_bands for i in selected]
        elif band_range is not None:
            start, stop = (int(v) for v in band_range)
            if not 0 <= start < stop <= self.n_bands:
                raise DataError(
                    f"band_range {band_range} must satisfy 0 <= start < stop <= {self.n_bands}"
                )
            selected = list(range(start, stop))
        else:
            if self.wavelengths is None:
                raise DataError(f"scene {self.name!r} has no wavelengths: select bands by index")
            low, high = sorted(float(v) for v in wavelength_range)  # type: ignore[union-attr]
            selected = [i for i, nm in enumerate(self.wavelengths) if low <= nm <= high]
        if not selected:
            raise DataError(f"band selection on scene {self.name!r} is empty")
        rgb = None
        if self.rgb_bands is not None and all(b in selected for b in self.rgb_bands):
            rgb = tuple(selected.index(b) for b in self.rgb_bands)
        return replace(
            self,
            cube=self.cube[:, :, selected],
            wavelengths=None if self.wavelengths is None else self.wavelengths[selected],
            rgb_bands=rgb,
        )

    def standardize(self) -> Scene:
        """A new scene with every band at zero mean and unit variance over the scene's pixels
        (constant bands become zero rather than NaN)."""
        pixels = self.pixels().astype(np.float64)
        mean = pixels.mean(axis=0)
        std = pixels.std(axis=0)
        std[std == 0] = 1.0
        cube = ((self.cube - mean) / std).astype(np.float32)
        return replace(self, cube=cube)

    def pca(self, n_components: int, *, seed: int = 0) -> Scene:
        """A new scene whose bands are the first `n_components` principal components of the
        pixels (wavelengths no longer apply and are dropped)."""
        from sklearn.decomposition import PCA

        if not 1 <= n_components <= min(self.n_bands, self.n_pixels):
            raise DataError(
                f"n_components must be in [1, {min(self.n_bands, self.n_pixels)}] for this scene; "
                f"got {n_components}"
            )
        model = PCA(n_components=n_components, random_state=seed)
        reduced = model.fit_transform(self.pixels().astype(np.float32))
        height, width, _ = self.shape
        return replace(
            self,
            cube=reduced.reshape(height, width, n_components).astype(np.float32),
            wavelengths=None,
            rgb_bands=None,
        )

    def crop(self, rows: slice, cols: slice) -> Scene:
        """A new scene cut to a window of rows and columns (its georeference moved to the
        window's first pixel; dropped for slices with steps, which change the pixel size)."""
        cube = self.cube[rows, cols]
        if min(cube.shape[:2]) == 0:
            raise DataError(f"crop {rows}, {cols} of scene {self.name!r} is empty")
        georeference = None
        if self.georeference is not None and rows.step in (None, 1) and cols.step in (None, 1):
            top, left = rows.indices(self.shape[0])[0], cols.indices(self.shape[1])[0]
            georeference = self.georeference.shifted(top, left)
        labels = None if self.labels is None else self.labels[rows, cols]
        # The window may hold fewer classes: keep names of the classes that remain.
        if labels is None:
            return replace(
                self,
                cube=cube,
                labels=None,
                class_names=(),
                label_values=(),
                georeference=georeference,
            )
        present = [c for c in range(1, self.n_classes + 1) if np.any(labels == c)]
        names = tuple(self.class_names[c - 1] for c in present) if self.class_names else ()
        values = tuple(self.label_values[c - 1] for c in present)
        return replace(
            self,
            cube=cube,
            labels=labels,
            class_names=names,
            label_values=values,
            georeference=georeference,
        )

    def __repr__(self) -> str:
        height, width, bands = self.shape
        return (
            f"Scene({self.name!r}, {height} x {width} px, {bands} bands, "
            f"{self.n_classes} classes, {int(self.labelled_mask.sum())} labelled pixels)"
        )
