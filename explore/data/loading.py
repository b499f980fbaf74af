"""Loading a dataset: a registered one, once `explore.data.locate` found its files, through the
loader its catalogue entry names (`DatasetEntry.reader`: scene, unmixing, IDX, CIFAR, image
folder, scikit-learn digits) and checked against the registered shape; or any file / folder given
by path, its format told by `explore.data.readers` from the content. `load_dataset`,
`load_scene` and `load_images` are the entry points.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explore.data.catalogue import (
    DEFAULT_SCENE,
    REGISTRY,
    DataFile,
    DatasetEntry,
    Reader,
    Role,
    _normalise,
    get_entry,
)
from explore.data.locate import _search_folder, locate
from explore.data.readers import expand_user, list_arrays, read_scene, read_unmixing, sniff_format
from explore.data.scene import Scene
from explore.errors import DataError, DatasetNotFoundError

if TYPE_CHECKING:
    from explore.data.images import ImageSet


# ---------------------------------------------------------------------------------- loading
def _matlab_key(path: Path, data_file: DataFile) -> str | None:
    """The registered key that `path` holds, else None (the reader then picks the only
    suitable array). Only MATLAB and .npz files have named keys worth passing."""
    if path.is_dir() or sniff_format(path) not in ("mat5", "mat73", "npz"):
        return None
    present = list_arrays(path)
    return next((key for key in data_file.keys if key in present), None)


def _image_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """`size` (an int for squares, or (height, width)) checked: both at least 1."""
    if size is None:
        return None
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        pair: tuple[object, ...] = (size, size)
    elif isinstance(size, tuple | list):
        pair = tuple(size)
    else:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in pair
    ):
        raise DataError(
            f"size must be an integer >= 1 or a (height, width) pair of them; got {size!r}"
        )
    return (int(pair[0]), int(pair[1]))  # type: ignore[call-overload]


def _load_entry(
    entry: DatasetEntry, paths: Mapping[Role, Path], size: int | tuple[int, int] | None
) -> Scene | ImageSet:
    """Read the files of `entry` with the loader its `reader` names and check the result
    against the registered shape."""
    if entry.kind == "hsi":
        if size is not None:
            raise DataError(f"size= applies to image sets; {entry.name!r} is a scene")
        scene = _SCENE_LOADERS.get(entry.reader, _load_scene)(entry, paths)
        if scene.shape != entry.shape:
            raise DataError(
                f"{paths['cube']} gives a {scene.shape} cube but dataset {entry.name!r} is "
                f"{entry.shape}: is it the right file?"
            )
        return scene
    images = _load_image_files(entry, paths, _image_size(size))
    expected = entry.shape if size is None else (*entry.shape[:2], *_image_size(size))
    if images.images.shape != expected:
        raise DataError(
            f"{paths['images']} gives images of shape {images.images.shape} but dataset "
            f"{entry.name!r} is {expected}: is it the right file or folder?"
        )
    return images


# One loader per `DatasetEntry.reader`. Image loaders import `explore.data.images` when they
# run: it imports torch, which listing or locating datasets and reading scenes do not need.
def _load_scene(entry: DatasetEntry, paths: Mapping[Role, Path]) -> Scene:
    """A scene from its cube file and, when found, its labels file (any format)."""
    cube_path = paths["cube"]
    labels_path = paths.get("labels")
    wavelengths = entry.wavelengths() if entry.wavelengths is not None else None
    return read_scene(
        cube_path,
        cube_key=_matlab_key(cube_path, entry.file("cube")),
        labels_path=labels_path,
        labels_key=None if labels_path is None else _matlab_key(labels_path, entry.file("labels")),
        name=entry.name,
        class_names=entry.class_names if labels_path is not None else (),
        wavelengths=wavelengths,
    )


def _load_unmixing(entry: DatasetEntry, paths: Mapping[Role, Path]) -> Scene:
    """A scene from one file in the unmixing layout (`Y` spectra, `A` abundances)."""
    return read_unmixing(paths["cube"], name=entry.name, class_names=entry.class_names)


def _load_idx(entry: DatasetEntry, paths: Mapping[Role, Path]) -> ImageSet:
    from explore.data.images import read_idx

    return read_idx(paths["images"], paths.get("labels"), name=entry.name)


def _load_cifar(entry: DatasetEntry, paths: Mapping[Role, Path]) -> ImageSet:
    from explore.data.images import read_cifar_batch

    return read_cifar_batch(paths["images"], name=entry.name)


def _load_digits(entry: DatasetEntry, paths: Mapping[Role, Path]) -> ImageSet:
    from explore.data.images import load_digits_imageset

    return load_digits_imageset()


def _no_image_file(entry: DatasetEntry, paths: Mapping[Role, Path]) -> ImageSet:
    raise DataError(
        f"dataset {entry.name!r} reads a folder of class sub-folders; {paths['images']} is a file"
    )


_SCENE_LOADERS: dict[Reader, Callable[[DatasetEntry, Mapping[Role, Path]], Scene]] = {
    "scene": _load_scene,
    "unmixing": _load_unmixing,
}
# Image sets: how each reader reads its `images` file. A folder found in its place (a local
# copy of class sub-folders, or an unpacked archive) is read as an image folder, whatever the
# reader; scikit-learn's digits never come from a folder.
_IMAGE_FILE_LOADERS: dict[Reader, Callable[[DatasetEntry, Mapping[Role, Path]], ImageSet]] = {
    "idx": _load_idx,
    "cifar": _load_cifar,
    "image_folder": _no_image_file,
    "sklearn_digits": _load_digits,
}


def _load_image_files(
    entry: DatasetEntry, paths: Mapping[Role, Path], size: tuple[int, int] | None
) -> ImageSet:
    from explore.data.images import read_image_folder

    images_path = paths["images"]
    if entry.reader != "sklearn_digits" and images_path.is_dir():
        with warnings.catch_warnings():
            # A README beside the class folders (GitHub archives) is expected, not a problem.
            warnings.filterwarnings("ignore", message=".*lying directly in", category=UserWarning)
            return read_image_folder(
                images_path, size=size, name=entry.name, max_per_class=entry.max_per_class
            )
    images = _IMAGE_FILE_LOADERS.get(entry.reader, _no_image_file)(entry, paths)
    if entry.max_per_class is not None:
        images = images.per_class(entry.max_per_class)
    if size is not None:
        images = images.resize(*size)
    return images


def _entry_for_file(path: Path) -> tuple[DatasetEntry, DataFile] | None:
    """The registered entry and file that a file name belongs to, if any."""
    for entry in REGISTRY.values():
        for data_file in entry.files:
            if path.name in data_file.names:
                return entry, data_file
    return None


def _load_path(
    path: Path, size: int | tuple[int, int] | None, lazy: bool | None = None
) -> Scene | ImageSet:
    """Read any supported file or folder. A file named like a registered scene's cube is read
    with that entry's metadata (class names, wavelengths, its labels file beside it) and must
    then have the registered shape."""
    from explore.data.images import (
        read_cifar_batch,
        read_idx,
        read_image_folder,
        read_npz_images,
        sniff_image_file,
    )

    if path.is_dir():
        return read_image_folder(path, size=_image_size(size))
    match = _entry_for_file(path)
    if match is not None and match[0].kind == "hsi" and match[1].role == "cube":
        entry = match[0]
        paths = {"cube": path}
        siblings = _search_folder(path.parent, {name for f in entry.files for name in f.names}, ())
        for other in entry.files:
            found = next((siblings[name] for name in other.names if name in siblings), None)
            if other.role != "cube" and found is not None:
                paths[other.role] = found
        return _load_entry(entry, paths, size)

    image_size = _image_size(size)
    kind = sniff_image_file(path)  # by content, never by name
    if kind == "idx_images":
        # its labels: the file beside it of MNIST's naming, when it holds IDX labels
        labels = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        paired = labels != path and sniff_image_file(labels) == "idx_labels"
        images = read_idx(path, labels if paired else None)
    elif kind == "idx_labels":
        raise DataError(f"{path} holds IDX labels, not images: load the images file beside it")
    elif kind == "cifar":
        images = read_cifar_batch(path)
    elif sniff_format(path) == "npz" and "images" in list_arrays(path):
        images = read_npz_images(path)
    else:
        if size is not None:
            raise DataError(f"size= applies to image sets; {path} holds a scene")
        return read_scene(path, lazy=lazy)
    return images if image_size is None else images.resize(*image_size)


def _is_path(value: str | os.PathLike[str]) -> bool:
    """Whether `value` means a file or folder rather than a dataset name."""
    text = os.fspath(value)
    return (
        isinstance(value, os.PathLike)
        or any(sep in text for sep in (os.sep, "/"))
        or bool(Path(text).suffix)
        or Path(text).exists()
    )


def load_dataset(
    name_or_path: str | os.PathLike[str] | DatasetEntry,
    *,
    download: bool = True,
    allow_unverified: bool = False,
    size: int | tuple[int, int] | None = None,
    lazy: bool | None = None,
    confined: bool = False,
) -> Scene | ImageSet:
    """A `Scene` or an `ImageSet` from a registered name, an entry, or a file / folder path.

    Names go through `locate` (data folders, cache, shipping package, then a verified
    download unless `download=False`). A path is read whatever its format: an HSI file
    (MATLAB, .npy, ENVI, GeoTIFF) -> Scene; a folder of class sub-folders, MNIST IDX files, a
    CIFAR batch or an .npz with `images` -> ImageSet. `size` (int or (height, width)) resizes
    image sets; the default keeps their size. `lazy` applies to scene files read by path
    (`read_scene`: by default, cubes above `EXPLORE_LAZY_BYTES` stay on disk).

    `confined=True` is for callers that take names from untrusted users (the dashboard): only
    registered names are read, never a path, and no file that leads through a symlink outside
    the data folder, cache or package it was found in (DatasetNotFoundError).
    """
    if isinstance(name_or_path, DatasetEntry):
        entry = name_or_path
    elif isinstance(name_or_path, str) and _normalise(name_or_path) in REGISTRY:
        entry = REGISTRY[_normalise(name_or_path)]
    elif confined:
        raise DatasetNotFoundError(
            f"{str(name_or_path)[:200]!r} is not a registered dataset name: only registered "
            "datasets are read here, never a path"
        )
    elif isinstance(name_or_path, str) and (not name_or_path.strip() or "\x00" in name_or_path):
        raise DatasetNotFoundError(
            f"no dataset name or path in {name_or_path!r}: give a registered name (see "
            "`explore datasets`) or a file / folder path"
        )
    elif _is_path(name_or_path):
        try:
            path = expand_user(name_or_path)
        except FileNotFoundError as error:  # "~nobody/x": unknown user
            raise DatasetNotFoundError(f"no file or folder at {name_or_path}: {error}") from error
        if not path.exists():
            raise DatasetNotFoundError(f"no file or folder at {path}")
        return _load_path(path, size, lazy)
    else:
        entry = get_entry(str(name_or_path))  # unknown: raises, naming close matches
    paths = locate(entry, download=download, allow_unverified=allow_unverified, confined=confined)
    return _load_entry(entry, paths, size)


def load_scene(
    name_or_path: str | os.PathLike[str] | DatasetEntry = DEFAULT_SCENE,
    *,
    download: bool = True,
    allow_unverified: bool = False,
    lazy: bool | None = None,
    confined: bool = False,
) -> Scene:
    """Like `load_dataset`, for a hyperspectral scene (DataError for an image set)."""
    loaded = load_dataset(
        name_or_path,
        download=download,
        allow_unverified=allow_unverified,
        lazy=lazy,
        confined=confined,
    )
    if not isinstance(loaded, Scene):
        raise DataError(
            f"{name_or_path!r} is an image set, not a hyperspectral scene: use load_images"
        )
    return loaded


def load_images(
    name_or_path: str | os.PathLike[str] | DatasetEntry,
    *,
    download: bool = True,
    allow_unverified: bool = False,
    size: int | tuple[int, int] | None = None,
) -> ImageSet:
    """Like `load_dataset`, for an image set (DataError for a hyperspectral scene)."""
    from explore.data.images import ImageSet

    loaded = load_dataset(
        name_or_path, download=download, allow_unverified=allow_unverified, size=size
    )
    if not isinstance(loaded, ImageSet):
        raise DataError(
            f"{name_or_path!r} is a hyperspectral scene, not an image set: use load_scene"
        )
    return loaded
