"""Hostile inputs (issue 9, "bad input"): property-based tests of every reader and of the
registry's path entry on truncated, random, corrupt and degenerate files.

Each generated case must end in a correct result or in a typed error from `explore.errors`
(whose message names the file, for file errors): never an untyped exception (KeyError,
struct.error, a numpy ValueError, ...), a MemoryError, a hang or a crash. Generated files live
in a fresh temporary folder per example. `EXPLORE_FUZZ_EXAMPLES` sets the number of examples
per test (default `EXAMPLES`); runs are derandomised (the same cases every run) unless
`EXPLORE_FUZZ_RANDOM=1`. docs/reliability.md lists what is covered.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import signal
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explore.data.images import (
    ImageSet,
    read_cifar_batch,
    read_idx,
    read_image_folder,
    read_npz_images,
)
from explore.data.lazy import read_halo_block
from explore.data.readers import list_arrays, read_scene
from explore.data.registry import load_dataset
from explore.data.scene import Scene
from explore.errors import DataError, ExploreError, FileFormatError

EXAMPLES = int(os.environ.get("EXPLORE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("EXPLORE_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TIME_LIMIT_SECONDS = 30


# ---------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _time_limit(seconds: int = TIME_LIMIT_SECONDS) -> Iterator[None]:
    """Fail a call that does not return within `seconds` (a hang) instead of blocking."""

    def _expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s: the reader hangs")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(call: Callable[[], Any], path: Path | None = None) -> Any:
    """The result of `call`, or the typed error it raised. Any other exception (untyped,
    MemoryError, TimeoutError) propagates and fails the test; a FileFormatError must name the
    file `path`."""
    with _time_limit():
        try:
            return call()
        except ExploreError as error:
            message = str(error)
            assert message, f"{type(error).__name__} without a message"
            if path is not None and isinstance(error, FileFormatError):
                assert path.name in message, f"the message does not name {path.name}: {message}"
            return error


@contextlib.contextmanager
def _folder() -> Iterator[Path]:
    """A fresh folder per hypothesis example (pytest's tmp_path is one per test)."""
    with tempfile.TemporaryDirectory(prefix="explore-hostile-") as name:
        yield Path(name)


def _cube(seed: int, height: int, width: int, bands: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(height, width, bands)).astype(np.float32)


def _labels(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, 4, size=(height, width)).astype(np.uint8)


def _write_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """MATLAB v7.3 layout: 512-byte text header, HDF5 with reversed axes and MATLAB_class."""
    classes = {"float64": "double", "float32": "single", "uint8": "uint8", "int16": "int16"}
    with h5py.File(path, "w", userblock_size=512) as file:
        for key, array in arrays.items():
            dataset = file.create_dataset(key, data=np.ascontiguousarray(array.T))
            matlab_class = classes.get(array.dtype.name)
            if matlab_class is not None:
                dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with path.open("r+b") as stream:
        stream.write(header.ljust(124, b" ") + b"\x00\x02IM")


def _envi_header(samples: Any, lines: Any, bands: Any, **fields: Any) -> str:
    text = f"ENVI\nsamples = {samples}\nlines = {lines}\nbands = {bands}\n"
    defaults = {
        "header offset": 0,
        "file type": "ENVI Standard",
        "data type": 4,
        "interleave": "bsq",
        "byte order": 0,
    }
    for key, value in {**defaults, **fields}.items():
        if value is not None:
            text += f"{key} = {value}\n"
    return text


SCENE_FORMATS = ("mat5", "mat73", "npy", "npz", "npz_compressed", "envi")


def write_scene(folder: Path, fmt: str, arrays: dict[str, np.ndarray]) -> Path:
    """`arrays` ("cube" and optionally "gt") in format `fmt`; returns the path to read."""
    cube = arrays["cube"]
    if fmt == "mat5":
        path = folder / "scene.mat"
        scipy.io.savemat(path, arrays)
    elif fmt == "mat73":
        path = folder / "scene.mat"
        _write_v73(path, arrays)
    elif fmt == "npy":
        path = folder / "scene.npy"
        np.save(path, cube)
    elif fmt == "npz":
        path = folder / "scene.npz"
        np.savez(path, **arrays)
    elif fmt == "npz_compressed":
        path = folder / "scene.npz"
        np.savez_compressed(path, **arrays)
    elif fmt == "envi":
        path = folder / "scene.hdr"
        height, width, bands = cube.shape
        path.write_text(_envi_header(width, height, bands, interleave="bip"))
        (folder / "scene.img").write_bytes(np.ascontiguousarray(cube, dtype="<f4").tobytes())
    else:
        raise AssertionError(fmt)
    return path


def _data_file(path: Path, fmt: str) -> Path:
    """The file holding the bytes of `path` (ENVI: the data file next to the header)."""
    return path.with_suffix(".img") if fmt == "envi" else path


cube_shapes = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4))


# ---------------------------------------------------------------------------------- scenes
@FUZZ
@given(
    fmt=st.sampled_from(SCENE_FORMATS),
    shape=cube_shapes,
    seed=st.integers(0, 2**16),
    cut=st.floats(0.0, 1.0, exclude_max=True),
    cut_header=st.booleans(),
)
def test_truncated_scene_files(
    fmt: str, shape: tuple[int, int, int], seed: int, cut: float, cut_header: bool
) -> None:
    """A scene file cut at any byte: a FileFormatError naming it, or (cut in padding) the
    original cube exactly."""
    cube = _cube(seed, *shape)
    arrays = {"cube": cube} if fmt == "npy" else {"cube": cube, "gt": _labels(seed, *shape[:2])}
    with _folder() as folder:
        path = write_scene(folder, fmt, arrays)
        victim = path if (fmt == "envi" and cut_header) else _data_file(path, fmt)
        content = victim.read_bytes()
        victim.write_bytes(content[: int(cut * len(content))])
        result = outcome(lambda: read_scene(path), victim)
        if isinstance(result, Scene):
            np.testing.assert_array_equal(result.cube, cube)
        else:
            assert isinstance(result, FileFormatError), result
        outcome(lambda: list_arrays(path), victim)


@FUZZ
@given(
    fmt=st.sampled_from(SCENE_FORMATS),
    shape=cube_shapes,
    seed=st.integers(0, 2**16),
    flips=st.lists(
        st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
        min_size=1,
        max_size=6,
    ),
)
def test_corrupted_scene_files(
    fmt: str, shape: tuple[int, int, int], seed: int, flips: list[tuple[float, int]]
) -> None:
    """Bytes changed anywhere (headers included): a typed error or some valid scene."""
    cube = _cube(seed, *shape)
    arrays = {"cube": cube} if fmt == "npy" else {"cube": cube, "gt": _labels(seed, *shape[:2])}
    with _folder() as folder:
        path = write_scene(folder, fmt, arrays)
        victim = _data_file(path, fmt) if fmt != "envi" else path
        content = bytearray(victim.read_bytes())
        for position, xor in flips:
            content[int(position * len(content))] ^= xor
        victim.write_bytes(bytes(content))
        result = outcome(lambda: read_scene(path), victim)
        assert isinstance(result, Scene | ExploreError)


MAGICS = {
    "none": b"",
    "mat5": b"MATLAB 5.0 MAT-file".ljust(124, b" ") + b"\x00\x01IM",
    "mat73": b"MATLAB 7.3 MAT-file".ljust(124, b" ") + b"\x00\x02IM",
    "hdf5": b"\x89HDF\r\n\x1a\n",
    "npy": b"\x93NUMPY\x01\x00",
    "zip": b"PK\x03\x04",
    "tiff": b"II*\x00",
    "envi": b"ENVI\n",
}


@FUZZ
@given(magic=st.sampled_from(sorted(MAGICS)), tail=st.binary(max_size=600))
def test_random_bytes_behind_each_magic(magic: str, tail: bytes) -> None:
    """Random bytes, alone or behind each format's magic, are refused with a typed error."""
    with _folder() as folder:
        path = folder / "random.mat"
        path.write_bytes(MAGICS[magic] + tail)
        result = outcome(lambda: read_scene(path), path)
        assert isinstance(result, Scene | ExploreError)
        outcome(lambda: load_dataset(path), path)


DEGENERATE = ("zero_height", "zero_bands", "one_pixel", "nan", "inf", "constant_band")


@FUZZ
@given(
    fmt=st.sampled_from(SCENE_FORMATS),
    kind=st.sampled_from(DEGENERATE),
    shape=cube_shapes,
    seed=st.integers(0, 2**16),
)
def test_degenerate_cubes(fmt: str, kind: str, shape: tuple[int, int, int], seed: int) -> None:
    """Zero-sized cubes and NaN / Inf are refused (DataError); 1-pixel scenes and constant
    bands load, and standardising them gives finite values."""
    height, width, bands = shape
    if kind == "zero_height":
        height = 0
    elif kind == "zero_bands":
        bands = 0
    elif kind == "one_pixel":
        height = width = 1
    cube = _cube(seed, height, width, bands)
    if kind in ("nan", "inf"):
        cube[seed % height, seed % width, seed % bands] = np.nan if kind == "nan" else -np.inf
    if kind == "constant_band":
        cube[:, :, seed % bands] = 3.0
    arrays = {"cube": cube}
    if fmt != "npy" and height:
        arrays["gt"] = _labels(seed, height, width)
    with _folder() as folder:
        path = write_scene(folder, fmt, arrays)
        result = outcome(lambda: read_scene(path), path)
        if kind in ("zero_height", "zero_bands", "nan", "inf"):
            assert isinstance(result, DataError), result
            assert "scene" in str(result)  # the message names the file
        else:
            assert isinstance(result, Scene), result
            np.testing.assert_array_equal(result.cube, cube)
            assert np.isfinite(result.standardize().cube).all()


LABEL_VARIANTS = (
    "float_fraction",
    "float_whole",
    "float_nan",
    "float_huge",
    "negative",
    "bool",
    "complex",
    "int64_big",
    "wrong_height",
    "transposed",
    "three_axes",
    "one_axis",
    "scalar",
    "strings",
)


def _bad_labels(variant: str, height: int, width: int, seed: int) -> np.ndarray:
    labels = _labels(seed, height, width)
    if variant == "float_fraction":
        return labels + 0.5
    if variant == "float_whole":
        return labels.astype(np.float64)
    if variant == "float_nan":
        out = labels.astype(np.float64)
        out[0, 0] = np.nan
        return out
    if variant == "float_huge":
        return np.full((height, width), 1e300)
    if variant == "negative":
        return labels.astype(np.int16) - 4
    if variant == "bool":
        return labels > 1
    if variant == "complex":
        return labels.astype(np.complex128)
    if variant == "int64_big":
        return labels.astype(np.int64) * 2**40 + 2**40  # valid class values, far from 0..C
    if variant == "wrong_height":
        return _labels(seed, height + 1, width)
    if variant == "transposed":
        return _labels(seed, width, height + 1)
    if variant == "three_axes":
        return np.stack([labels, labels], axis=2)
    if variant == "one_axis":
        return labels.ravel()
    if variant == "scalar":
        return np.array(3)
    if variant == "strings":
        return np.full((height, width), "a")
    raise AssertionError(variant)


@FUZZ
@given(
    fmt=st.sampled_from(("mat5", "mat73", "npz", "npz_compressed")),
    variant=st.sampled_from(LABEL_VARIANTS),
    shape=cube_shapes,
    seed=st.integers(0, 2**16),
    separate=st.booleans(),
)
def test_labels_of_the_wrong_shape_or_dtype(
    fmt: str, variant: str, shape: tuple[int, int, int], seed: int, separate: bool
) -> None:
    """Labels by key (same file) or from a labels file: wrong shapes and dtypes are refused;
    what is accepted is an integer map of the cube's size with classes 1..C."""
    cube = _cube(seed, *shape)
    labels = _bad_labels(variant, shape[0], shape[1], seed)
    if fmt == "mat73" and variant in ("strings", "complex", "bool"):
        # the v7.3 writer here stores plain numbers: text and complex become fractions
        labels = np.full(shape[:2], 0.25) if variant != "bool" else labels.astype(np.float64)
    with _folder() as folder:
        if separate:
            cube_path = write_scene(folder, "npy", {"cube": cube})
            labels_dir = folder / "gt"
            labels_dir.mkdir()
            labels_path = write_scene(labels_dir, fmt, {"cube": cube, "gt": labels})
            call = lambda: read_scene(cube_path, labels_path=labels_path, labels_key="gt")  # noqa: E731
        else:
            labels_path = write_scene(folder, fmt, {"cube": cube, "gt": labels})
            call = lambda: read_scene(labels_path, labels_key="gt")  # noqa: E731
        result = outcome(call, labels_path)
        if isinstance(result, Scene):
            assert result.labels is not None and result.labels.shape == shape[:2]
            assert np.issubdtype(result.labels.dtype, np.integer)
            # MATLAB v5 stores a vector as a 1 x N matrix: right for a one-row scene
            one_row = variant == "one_axis" and fmt == "mat5" and shape[0] == 1
            accepted = ("float_whole", "bool", "int64_big")
            assert variant in accepted or one_row, variant
        else:
            assert isinstance(result, DataError), result


@FUZZ
@given(
    fmt=st.sampled_from(("mat5", "mat73", "npz", "npy", "envi")),
    cube_key=st.one_of(st.none(), st.text(max_size=12)),
    labels_key=st.one_of(st.none(), st.text(max_size=12)),
)
def test_wrong_or_missing_keys(fmt: str, cube_key: str | None, labels_key: str | None) -> None:
    """Any cube_key / labels_key: the scene when both name the right arrays, else a
    FileFormatError / DataError naming the file and the keys it holds."""
    cube = _cube(0, 3, 4, 2)
    arrays = {"cube": cube, "gt": _labels(0, 3, 4), "vector": np.arange(5.0)}
    with _folder() as folder:
        path = write_scene(folder, fmt, arrays)
        result = outcome(
            lambda: read_scene(path, cube_key=cube_key, labels_key=labels_key),
            _data_file(path, fmt) if fmt != "envi" else path,
        )
        right_cube = cube_key in (None, "cube" if fmt not in ("npy", "envi") else "")
        if fmt in ("npy", "envi"):
            right_cube = cube_key in (None, "array" if fmt == "npy" else "cube")
        if isinstance(result, Scene):
            assert right_cube and labels_key in (None, "gt"), (cube_key, labels_key)
            np.testing.assert_array_equal(result.cube, cube)
        else:
            assert isinstance(result, DataError)


HUGE = st.one_of(
    st.integers(2**31, 2**70), st.sampled_from([10**12, 2**63, 2**64 + 1, 99999999999999999999])
)
ENVI_VALUES = st.one_of(
    st.integers(-5, 8),
    HUGE,
    st.sampled_from(["", "x", "1e3", "3.5", "{1, 2}", "-0", "0x10", "nan", "  4  "]),
)


@FUZZ
@given(
    samples=ENVI_VALUES,
    lines=ENVI_VALUES,
    bands=ENVI_VALUES,
    offset=st.one_of(st.none(), ENVI_VALUES),
    data_type=st.sampled_from([None, 1, 2, 3, 4, 5, 6, 9, 12, 13, 14, 15, 7, 0, "x", 10**30]),
    byte_order=st.sampled_from([None, 0, 1, 2, "x"]),
    interleave=st.sampled_from([None, "bsq", "bil", "bip", "BIP", "xyz", ""]),
    data_bytes=st.integers(0, 300),
)
def test_envi_headers(
    samples: Any,
    lines: Any,
    bands: Any,
    offset: Any,
    data_type: Any,
    byte_order: Any,
    interleave: Any,
    data_bytes: int,
) -> None:
    """Any header values, huge declared sizes included: refused before anything is allocated
    (no MemoryError, no hang), or a cube whose size is the data file's."""
    with _folder() as folder:
        header = folder / "cube.hdr"
        header.write_text(
            _envi_header(
                samples,
                lines,
                bands,
                **{
                    "header offset": offset,
                    "data type": data_type,
                    "byte order": byte_order,
                    "interleave": interleave,
                },
            )
        )
        (folder / "cube.img").write_bytes(bytes(range(256)) + bytes(data_bytes))
        result = outcome(lambda: read_scene(header), header)
        if isinstance(result, Scene):
            assert result.cube.size <= 256 + data_bytes


@FUZZ
@given(
    shape=st.lists(st.one_of(st.integers(0, 6), HUGE, st.integers(-3, -1)), max_size=4),
    descr=st.sampled_from(["<f4", ">f8", "|u1", "<i8", "|b1", "<c8", "|O", "<U3", "|V4", "x"]),
    fortran=st.booleans(),
    payload=st.integers(0, 200),
    where=st.sampled_from(["npy", "npz"]),
)
def test_npy_headers(shape: list[int], descr: str, fortran: bool, payload: int, where: str) -> None:
    """.npy headers (alone or inside an .npz) declaring any shape and dtype: sizes past the
    data are refused before reading, object / text arrays refused, never an untyped error."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    header_bytes = header.encode("latin1")
    padding = 64 - (10 + len(header_bytes) + 1) % 64
    npy = b"\x93NUMPY\x01\x00" + (len(header_bytes) + padding + 1).to_bytes(2, "little")
    npy += header_bytes + b" " * padding + b"\n" + bytes(payload)
    with _folder() as folder:
        if where == "npy":
            path = folder / "crafted.npy"
            path.write_bytes(npy)
        else:
            path = folder / "crafted.npz"
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("cube.npy", npy)
        result = outcome(lambda: read_scene(path), path)
        assert isinstance(result, Scene | ExploreError)


def test_npz_member_that_lies_about_its_size_is_refused_before_allocating(
    tmp_path: Path,
) -> None:
    """A zip whose headers declare a 3 GiB member that is a few KiB compressed (more than
    deflate can expand) must be refused from its sizes, not allocated by numpy and then read."""
    declared = 3 * 2**30
    shape = (declared // 2**20, 1024, 1024)
    header = repr({"descr": "|u1", "fortran_order": False, "shape": shape})
    body = header.encode() + b" " * (117 - len(header)) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + bytes(4096)
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cube.npy", npy)
    content = bytearray(path.read_bytes())
    lie = (declared + 128).to_bytes(4, "little")
    local, central = content.find(b"PK\x03\x04"), content.rfind(b"PK\x01\x02")
    content[local + 22 : local + 26] = lie  # uncompressed size in the local header
    content[central + 24 : central + 28] = lie  # and in the central directory
    path.write_bytes(bytes(content))
    for call in (lambda: read_scene(path), lambda: list_arrays(path)):
        result = outcome(call, path)
        assert isinstance(result, FileFormatError), result
        assert "liar.npz" in str(result)


# ---------------------------------------------------------------------------------- images
def _idx_bytes(images: np.ndarray, magic_axes: int | None = None) -> bytes:
    axes = images.ndim if magic_axes is None else magic_axes
    header = bytes([0, 0, 8, axes]) + b"".join(int(n).to_bytes(4, "big") for n in images.shape)
    return header + images.astype(np.uint8).tobytes()


@FUZZ
@given(
    n=st.integers(1, 6),
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    seed=st.integers(0, 2**16),
    compress=st.booleans(),
    victim=st.sampled_from(["images", "labels"]),
    cut=st.floats(0.0, 1.0, exclude_max=True),
)
def test_truncated_idx_files(
    n: int, size: tuple[int, int], seed: int, compress: bool, victim: str, cut: float
) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *size)).astype(np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    with _folder() as folder:
        paths = {"images": folder / "x-images-idx3-ubyte", "labels": folder / "x-labels-idx1-ubyte"}
        for role, array in (("images", images), ("labels", labels)):
            content = _idx_bytes(array)
            if compress:
                content = gzip.compress(content, mtime=0)
            if role == victim:
                content = content[: int(cut * len(content))]
            paths[role].write_bytes(content)
        result = outcome(lambda: read_idx(paths["images"], paths["labels"]), paths[victim])
        assert isinstance(result, FileFormatError), result
        if victim == "images":
            assert isinstance(outcome(lambda: load_dataset(paths["images"])), ExploreError)


@FUZZ
@given(
    dims=st.lists(
        st.one_of(st.integers(0, 8), st.integers(2**20, 2**32 - 1)), min_size=0, max_size=4
    ),
    axes=st.integers(0, 255),
    type_code=st.sampled_from([8, 9, 0x0B, 0x0D, 0]),
    payload=st.integers(0, 300),
    compress=st.booleans(),
)
def test_idx_headers(
    dims: list[int], axes: int, type_code: int, payload: int, compress: bool
) -> None:
    """IDX headers declaring any magic and dimensions (up to 2**32 - 1 each): refused
    before allocation unless they match the bytes that follow."""
    content = bytes([0, 0, type_code, axes]) + b"".join(d.to_bytes(4, "big") for d in dims)
    content += bytes(payload)
    with _folder() as folder:
        path = folder / "images-idx3-ubyte"
        path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
        result = outcome(lambda: read_idx(path), path)
        if isinstance(result, ImageSet):
            assert result.n_images * int(np.prod(result.image_shape)) == payload


IMAGE_DTYPES = ("uint8", "float32", "float64", "int16", "bool", "complex64", "<U2")
LABELS = st.one_of(
    st.none(),
    st.sampled_from(["right", "float", "negative", "big", "wrong_length", "two_d", "strings"]),
)


def _image_array(dtype: str, shape: tuple[int, ...], seed: int, special: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "<U2":
        return np.full(shape, "ab")
    values = rng.random(shape)
    if dtype == "uint8":
        return (values * 255).astype(np.uint8)
    array = values.astype(dtype) if dtype != "int16" else (values * 300).astype(np.int16)
    if array.size and special != "none" and array.dtype.kind == "f":
        array.flat[seed % array.size] = {"nan": np.nan, "inf": np.inf, "big": 2.0}[special]
    return array


def _image_labels(kind: str | None, n: int, seed: int) -> np.ndarray | None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, size=n)
    return {
        None: None,
        "right": base,
        "float": base + 0.5,
        "negative": base - 5,
        "big": base * 2**60,
        "wrong_length": rng.integers(0, 3, size=n + 1),
        "two_d": base.reshape(n, 1),
        "strings": np.full(n, "x"),
    }[kind]


@FUZZ
@given(
    dtype=st.sampled_from(IMAGE_DTYPES),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=5).map(tuple),
    special=st.sampled_from(["none", "nan", "inf", "big"]),
    labels=LABELS,
    names=st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c", "a"]), max_size=4)),
    seed=st.integers(0, 2**16),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0, exclude_max=True)),
    through_registry=st.booleans(),
)
def test_npz_image_sets(
    dtype: str,
    shape: tuple[int, ...],
    special: str,
    labels: str | None,
    names: list[str] | None,
    seed: int,
    cut: float | None,
    through_registry: bool,
) -> None:
    """.npz image archives of any dtype / shape, bad values, bad labels, cut anywhere."""
    images = _image_array(dtype, shape, seed, special)
    arrays: dict[str, np.ndarray] = {"images": images}
    label_array = _image_labels(labels, shape[0], seed)
    if label_array is not None:
        arrays["labels"] = label_array
    if names is not None:
        arrays["class_names"] = np.array(names, dtype="<U1")
    with _folder() as folder:
        path = folder / "set.npz"
        np.savez(path, **arrays)
        if cut is not None:
            content = path.read_bytes()
            path.write_bytes(content[: int(cut * len(content))])
        reader = load_dataset if through_registry else read_npz_images
        result = outcome(lambda: reader(path), path)
        if isinstance(result, ImageSet):
            assert result.images.dtype == np.float32 and np.isfinite(result.images).all()
            assert result.images.min() >= 0.0 and result.images.max() <= 1.0
            assert result.n_images == shape[0]
            if result.labels is not None:
                assert result.labels.min() >= -1 and result.labels.max() < result.n_classes
        elif isinstance(result, Scene):
            assert through_registry  # a 3-D float array without "images" key is a cube
        else:
            assert isinstance(result, DataError | ExploreError)


CIFAR_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.lists(st.one_of(st.integers(-2, 12), st.integers(2**63, 2**70), st.text(max_size=2))),
    st.builds(lambda n: np.zeros(n, dtype=np.uint8), st.integers(0, 4)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@FUZZ
@given(
    n=st.integers(0, 3),
    row=st.sampled_from([3072, 3071, 10]),
    data_dtype=st.sampled_from(["uint8", "float32", "int64"]),
    labels=st.one_of(st.just("right"), CIFAR_VALUES),
    labels_key=st.sampled_from(["labels", b"labels", "fine_labels", "nope"]),
    meta=st.one_of(st.none(), CIFAR_VALUES, st.lists(st.text(max_size=3), max_size=12)),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0, exclude_max=True)),
)
def test_cifar_batches(
    n: int,
    row: int,
    data_dtype: str,
    labels: Any,
    labels_key: Any,
    meta: Any,
    cut: float | None,
) -> None:
    """Pickled CIFAR batches (and their meta file) with any content, or cut anywhere."""
    data = np.zeros((n, row), dtype=data_dtype)
    if isinstance(labels, str) and labels == "right":
        labels = [i % 10 for i in range(n)]
    with _folder() as folder:
        path = folder / "data_batch_1"
        path.write_bytes(pickle.dumps({b"data": data, labels_key: labels}, protocol=2))
        if meta is not None:
            (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": meta}))
        if cut is not None:
            content = path.read_bytes()
            path.write_bytes(content[: int(cut * len(content))])
        result = outcome(lambda: read_cifar_batch(path), None)
        if isinstance(result, ImageSet):
            assert result.image_shape == (3, 32, 32) and result.n_images == n
        outcome(lambda: load_dataset(path))


@FUZZ
@given(content=st.binary(max_size=400), name=st.sampled_from(["data_batch_1", "x.tar.gz"]))
def test_cifar_random_bytes(content: bytes, name: str) -> None:
    with _folder() as folder:
        path = folder / name
        path.write_bytes(content)
        result = outcome(lambda: read_cifar_batch(path), path)
        assert isinstance(result, ExploreError)


MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
FORMATS_BY_MODE = {
    "1": ("PNG", "BMP", "TIFF"),
    "L": ("PNG", "BMP", "TIFF", "JPEG"),
    "LA": ("PNG", "TIFF"),
    "P": ("PNG", "BMP", "TIFF"),
    "RGB": ("PNG", "BMP", "TIFF", "JPEG"),
    "RGBA": ("PNG", "TIFF"),
    "CMYK": ("TIFF", "JPEG"),
    "I;16": ("PNG", "TIFF"),
    "I": ("TIFF",),
    "F": ("TIFF",),
}
image_specs = st.sampled_from(MODES).flatmap(
    lambda mode: st.tuples(
        st.just(mode),
        st.sampled_from(FORMATS_BY_MODE[mode]),
        st.tuples(st.integers(1, 9), st.integers(1, 9)),
    )
)


def _pil_image(mode: str, size: tuple[int, int], seed: int) -> Any:
    from PIL import Image

    rng = np.random.default_rng(seed)
    height, width = size
    if mode == "F":
        return Image.fromarray(rng.random((height, width)).astype(np.float32), mode="F")
    if mode == "I":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.int32))
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16))
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3)).astype(np.uint8), "RGB")
    return rgb.convert(mode)


@FUZZ
@given(
    specs=st.lists(image_specs, min_size=1, max_size=6),
    n_classes=st.integers(1, 3),
    size=st.one_of(st.none(), st.integers(1, 8)),
    seed=st.integers(0, 2**16),
    broken=st.one_of(st.none(), st.floats(0.0, 1.0, exclude_max=True)),
    on_error=st.sampled_from(["raise", "skip"]),
)
def test_image_folders_of_mixed_sizes_and_modes(
    specs: list[tuple[str, str, tuple[int, int]]],
    n_classes: int,
    size: int | None,
    seed: int,
    broken: float | None,
    on_error: str,
) -> None:
    """Folders mixing modes (1, L, LA, P, RGB, RGBA, CMYK, 16-bit, 32-bit, float), formats
    and sizes, optionally with one file cut short: one set of the common (or asked) size, RGB
    unless every image is gray; a cut file is a FileFormatError naming it, or skipped."""
    gray_modes = {"1", "L", "LA", "I;16", "I", "F"}
    with _folder() as folder:
        root = folder / "set"
        paths = []
        for index, (mode, image_format, image_size) in enumerate(specs):
            class_dir = root / f"class{index % n_classes}"
            class_dir.mkdir(parents=True, exist_ok=True)
            path = class_dir / f"{index:02d}.img"
            _pil_image(mode, image_size, seed + index).save(path, format=image_format)
            paths.append(path)
        victim = None
        if broken is not None:
            victim = paths[int(broken * len(paths))]
            content = victim.read_bytes()
            victim.write_bytes(content[: len(content) // 3])
        with pytest.warns() if (victim is not None and on_error == "skip") else _no_context():
            result = outcome(lambda: read_image_folder(root, size=size, on_error=on_error), victim)
        if isinstance(result, ImageSet):
            kept = [spec for path, spec in zip(paths, specs, strict=True) if path != victim]
            if victim is not None and on_error == "raise":
                kept = [spec for spec in specs]  # a cut file that Pillow still decodes
            channels = 1 if all(mode in gray_modes for mode, _, _ in kept) else 3
            assert result.images.shape[1] == channels or victim is not None
            if size is not None:
                assert result.images.shape[2:] == (size, size)
            assert np.isfinite(result.images).all()
            assert result.images.min() >= 0.0 and result.images.max() <= 1.0
        else:
            assert victim is not None or isinstance(result, DataError), result


@contextlib.contextmanager
def _no_context() -> Iterator[None]:
    yield


# ---------------------------------------------------------------------------------- registry
REGISTRY_NAMES = (
    "Salinas_A_corrected.mat",  # a registered cube name: read with the entry's metadata
    "Indian_pines_corrected.npy",
    "samson_dataset.mat",
    "t10k-images-idx3-ubyte",
    "test_batch",
    "cifar-10-python.tar.gz",
    "scene.npz",
    "plain.mat",
    "noext",
)


@FUZZ
@given(
    name=st.sampled_from(REGISTRY_NAMES),
    content=st.one_of(
        st.binary(max_size=300),
        st.sampled_from(sorted(MAGICS)).flatmap(
            lambda magic: st.binary(max_size=300).map(lambda tail: MAGICS[magic] + tail)
        ),
    ),
    size=st.sampled_from([None, 4, (4, 5), 0, -1, (1, 2, 3), (0, 3), "x", 2.5]),
)
def test_load_dataset_on_hostile_paths(name: str, content: bytes, size: Any) -> None:
    """load_dataset on files named like registered ones (or not) holding random bytes, with
    any size=: always a typed error."""
    with _folder() as folder:
        path = folder / name
        path.write_bytes(content)
        result = outcome(lambda: load_dataset(path, size=size))
        assert isinstance(result, ExploreError), result


@pytest.mark.parametrize("value", ["", " ", "\x00", "a/../../nowhere", "~nobody_here/x.mat"])
def test_load_dataset_on_empty_and_odd_names(value: str) -> None:
    result = outcome(lambda: load_dataset(value))
    assert isinstance(result, ExploreError), result


@pytest.mark.parametrize("size", [0, -1, (1, 2, 3), (0, 3), "x", 2.5, (2, "y")])
def test_load_dataset_size_is_checked(size: Any) -> None:
    result = outcome(lambda: load_dataset("digits", size=size))
    assert isinstance(result, DataError), result


# ---------------------------------------------------------------------------------- found bugs
def _mat5_with_cube(folder: Path) -> tuple[Path, bytearray]:
    path = folder / "scene.mat"
    scipy.io.savemat(path, {"cube": _cube(0, 2, 2, 2), "gt": _labels(0, 2, 2)})
    return path, bytearray(path.read_bytes())


def _crashing_mat5(folder: Path, kind: str) -> Path:
    """MATLAB v5 files that made scipy's compiled reader crash (segmentation fault)."""
    path, content = _mat5_with_cube(folder)
    # element at 128: tag (8), flags (16), dims (8 + 12 -> 24), name (8), then the data tag
    if kind == "unknown data type":
        content[128 + 8 + 16 + 24 + 8] = 103  # miSINGLE (7) -> 103
    elif kind == "complex flag without imaginary part":
        content[128 + 8 + 8 + 1] |= 0x08  # array flags: complex; "gt" is read as its imaginary part
    path.write_bytes(bytes(content))
    return path


@pytest.mark.parametrize("kind", ["unknown data type", "complex flag without imaginary part"])
def test_mat5_files_that_crashed_scipy_are_refused(kind: str, tmp_path: Path) -> None:
    """Read in a child process, so that a regression shows as a failed test, not a dead run."""
    import subprocess
    import sys

    path = _crashing_mat5(tmp_path, kind)
    code = (
        "import sys\n"
        "from explore.data.readers import read_scene\n"
        "from explore.errors import FileFormatError\n"
        "try:\n    read_scene(sys.argv[1])\n"
        "except FileFormatError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"status {result.returncode}: {result.stderr[-400:]}"
    assert "scene.mat" in result.stdout and "corrupt" in result.stdout


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


FOUND = {
    "cut gzip named like a CIFAR batch": lambda d: read_cifar_batch(
        _write(d / "data_batch_1", b"\x1f\x8b")
    ),
    "pickle FRAME longer than memory": lambda d: read_cifar_batch(
        _write(d / "data_batch_1", b"\x95" + bytes(7) + b"\x80")
    ),
    "CIFAR meta whose label_names is a number": lambda d: (
        _write(d / "batches.meta", pickle.dumps({"label_names": 0})),
        read_cifar_batch(
            _write(
                d / "b_batch", pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0]})
            )
        ),
    ),
    "ENVI header of 0 lines": lambda d: (
        _write(d / "e.img", b""),
        read_scene(_write(d / "e.hdr", _envi_header(2, 0, 2).encode())),
    ),
    "labels of 1e300": lambda d: read_scene(
        write_scene(d, "npz", {"cube": _cube(0, 2, 2, 1), "gt": np.full((2, 2), 1e300)}),
        labels_key="gt",
    ),
    "load_dataset(size=(1, 2, 3))": lambda d: load_dataset("digits", size=(1, 2, 3)),
    "load_dataset of an unknown user's home": lambda d: load_dataset("~nobody_here/x.mat"),
    "load_dataset of an empty name": lambda d: load_dataset(""),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_bugs_found_by_the_generated_cases_stay_fixed(case: str, tmp_path: Path) -> None:
    """The smallest failing inputs hypothesis found (docs/reliability.md), kept as examples."""
    result = outcome(lambda: FOUND[case](tmp_path))
    assert isinstance(result, ExploreError), result


# ---------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("cli") / "tiny.npz"
    np.savez(path, cube=rng.normal(size=(6, 6, 5)).astype(np.float32), gt=_labels(0, 6, 6))
    return str(path)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `explore` in-process: (exit status, stderr). An exception escaping main() (which
    a user would see as a traceback) fails the test."""
    from explore.cli import main

    capsys.readouterr()
    try:
        status = main(args)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    return status, capsys.readouterr().err


OUT = "{out}"
SCENE = "{scene}"
CLI_CASES = {
    # missing
    "no command": ([], "required"),
    "info without target": (["info"], "required"),
    "train without options": (["train"], "--method"),
    "train without dataset": (["train", "--method", "kmeans"], "--dataset"),
    "predict without out": (["predict", "--run", OUT, "--dataset", SCENE], "--out"),
    "transfer without target": (["transfer"], "--target"),
    "predict on a run without checkpoint": (
        ["predict", "--run", OUT, "--dataset", SCENE, "--out", OUT + "/m.npy"],
        "checkpoint",
    ),
    "info on a missing file": (["info", OUT + "/missing.mat"], "missing.mat"),
    # malformed
    "unknown command": (["frobnicate"], "invalid choice"),
    "datasets with an argument": (["datasets", "extra"], "unrecognized"),
    "empty info target": (["info", ""], "empty"),
    "empty dataset": (["train", "--method", "kmeans", "--dataset", " ", "--out", OUT], "empty"),
    "empty out": (["train", "--method", "kmeans", "--dataset", SCENE, "--out", ""], "empty"),
    "empty predict out": (["predict", "--run", OUT, "--dataset", SCENE, "--out", ""], "empty"),
    "empty target": (["transfer", "--target", "", "--out", OUT], "empty"),
    "unknown method": (["train", "--method", "nope", "--dataset", SCENE], "invalid choice"),
    "clusters not a number": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--clusters", "x"],
        "int",
    ),
    "clusters 0": (["train", "--method", "kmeans", "--dataset", SCENE, "--clusters", "0"], "2"),
    "clusters above pixels": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--clusters", "100"],
        "36",
    ),
    "negative seed": (["train", "--method", "kmeans", "--dataset", SCENE, "--seed", "-1"], "seed"),
    "huge seed": (["transfer", "--target", "digits", "--seed", str(2**40)], "seed"),
    "components 0": (["train", "--method", "kmeans", "--dataset", SCENE, "--components", "0"], "0"),
    "smoothing nan": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--smoothing", "nan"],
        "smoothing",
    ),
    "smoothing negative": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--smoothing", "-1"],
        "smoothing",
    ),
    "epochs 0": (["train", "--method", "sscc", "--dataset", SCENE, "--epochs", "0"], "epochs"),
    "samples per epoch 1": (
        ["train", "--method", "sscc", "--dataset", SCENE, "--samples-per-epoch", "1"],
        "--samples-per-epoch",
    ),
    "bad device": (["train", "--method", "sscc", "--dataset", SCENE, "--device", "gpu0"], "device"),
    "bad predict device": (
        ["predict", "--run", OUT, "--dataset", SCENE, "--out", "m.npy", "--device", "x"],
        "device",
    ),
    "bad config": (["train", "--method", "cc", "--dataset", SCENE, "--config", "turbo"], "choice"),
    "corrupt dataset file": (["train", "--method", "kmeans", "--dataset", OUT + "/bad.mat"], "bad"),
    "unknown dataset": (["train", "--method", "kmeans", "--dataset", "no_such_set"], "no_such"),
    "image set given to a scene method": (
        ["train", "--method", "sscc", "--dataset", "digits"],
        "image sets",
    ),
    "bad extractor": (["transfer", "--target", "digits", "--extractor", "resnet"], "extractor"),
    "bad pixels extractor": (["transfer", "--target", "digits", "--extractor", "pixels:x"], "N"),
    "max clusters 0": (["transfer", "--target", "digits", "--max-clusters", "0"], "--max-clus"),
    "image size 0": (["transfer", "--target", "digits", "--image-size", "0"], "--image-size"),
    "neighbors 0": (["transfer", "--target", "digits", "--neighbors", "0"], "n_neighbors"),
    "min dist inf": (["transfer", "--target", "digits", "--min-dist", "inf"], "finite"),
    "finetune lr 0": (
        ["transfer", "--target", "digits", "--source", "digits", "--finetune-lr", "0"],
        "--finetune-lr",
    ),
    "negative finetune epochs": (
        ["transfer", "--target", "digits", "--finetune-epochs", "-1"],
        "--finetune-epochs",
    ),
    "scene as transfer target": (["transfer", "--target", SCENE], "not an image set"),
    # conflicting
    "kmeans with resume": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--resume"],
        "--resume",
    ),
    "kmeans with epochs": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--epochs", "3"],
        "--epochs",
    ),
    "kmeans with samples per epoch": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--samples-per-epoch", "9"],
        "--samples-per-epoch",
    ),
    "kmeans with device": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--device", "cpu"],
        "--device",
    ),
    "deep with smoothing": (
        ["train", "--method", "sscc", "--dataset", SCENE, "--smoothing", "1"],
        "--smoothing",
    ),
    "deep with components": (
        ["train", "--method", "sscc", "--dataset", SCENE, "--components", "5"],
        "--components",
    ),
    "resume without checkpoint": (
        ["train", "--method", "sscc", "--dataset", SCENE, "--resume", "--overwrite"],
        "no checkpoint",
    ),
    "out is a file": (
        ["train", "--method", "kmeans", "--dataset", SCENE, "--out", SCENE],
        "folder",
    ),
    "finetuning without source": (
        ["transfer", "--target", "digits", "--finetune-epochs", "1"],
        "--source",
    ),
    "umap off with its options": (
        ["transfer", "--target", "digits", "--umap-components", "0", "--neighbors", "5"],
        "--neighbors",
    ),
    "predict over an existing map": (
        ["predict", "--run", OUT, "--dataset", SCENE, "--out", SCENE],
        "checkpoint",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_options_are_one_line_errors_with_status_2(
    case: str, tiny_scene: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing, malformed and conflicting options of every subcommand: exit status 2, one
    line on stderr naming the problem, no traceback, nothing written."""
    args, fragment = CLI_CASES[case]
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    out = tmp_path / "out"
    args = [arg.format(out=tmp_path, scene=tiny_scene) for arg in args]
    if args and args[0] in ("train", "transfer") and "--out" not in args:
        args = [*args, "--out", str(out)]
    status, err = _cli(args, capsys)
    lines = err.strip().splitlines()
    assert status == 2, (status, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert not (out / "metrics.json").exists() and not (out / "labels.npy").exists()


# ---------------------------------------------------------------------------------- GeoTIFF
GEOTIFF_LAYOUTS = st.tuples(
    st.sampled_from(["float32", "uint16", "int16"]),
    st.sampled_from(["pixel", "band"]),
    st.booleans(),  # tiled (16 x 16) or striped
    st.sampled_from([None, "deflate", "lzw", "packbits", "zstd"]),
    st.booleans(),  # BigTIFF
)


def _write_geotiff(
    path: Path, cube: np.ndarray, layout: tuple, *, nodata: float | None = None
) -> Path:
    """`cube` (H, W, B) through rasterio / GDAL in one of the drawn layouts, georeferenced."""
    from geotiff_files import write_geotiff  # needs rasterio: imported where it is used

    dtype, interleave, tiled, compress, bigtiff = layout
    return write_geotiff(
        path,
        cube,
        dtype,
        interleave=interleave,
        tiled=tiled,
        compress=compress,
        nodata=nodata,
        bigtiff=bigtiff,
    )


def _raw_tiff(
    width: int,
    height: int,
    bands: int,
    *,
    bits: int = 32,
    sample_format: int = 3,
    compression: int = 1,
    planar: int = 1,
    data: bytes = b"",
    big: bool = False,
    order: str = "<",
) -> bytes:
    """A TIFF whose first IFD declares anything, written by hand (GDAL refuses to write lies):
    one strip, or one per band when `planar` is 2, the strips splitting `data`."""
    import struct

    n_strips = max(1, bands) if planar == 2 else 1
    per_band = max(1, bands)
    tags: dict[int, tuple[int, list[int]]] = {
        256: (4, [width]),
        257: (4, [height]),
        258: (3, [bits] * per_band),
        259: (3, [compression]),
        262: (3, [1]),  # BlackIsZero
        273: (4, [0] * n_strips),  # strip offsets, set below
        277: (3, [bands]),
        278: (4, [height]),  # rows per strip
        279: (4, [len(data) // n_strips] * n_strips),
        284: (3, [planar]),
        339: (3, [sample_format] * per_band),
    }
    if big:
        header = (b"II" if order == "<" else b"MM") + struct.pack(order + "HHHQ", 43, 8, 0, 16)
        count_format, offset_format, entry_format, inline = "Q", "Q", "HHQ", 8
    else:
        header = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
        count_format, offset_format, entry_format, inline = "H", "I", "HHI", 4
    entry_size = struct.calcsize(order + entry_format) + inline
    blob_at = (
        len(header)
        + struct.calcsize(order + count_format)
        + len(tags) * entry_size
        + struct.calcsize(order + offset_format)
    )

    def build() -> tuple[list[bytes], bytes]:
        entries, blobs = [], b""
        for tag in sorted(tags):
            kind, values = tags[tag]
            value = struct.pack(order + {3: "H", 4: "I"}[kind] * len(values), *values)
            if len(value) > inline:
                offset = blob_at + len(blobs)
                blobs += value
                value = struct.pack(order + offset_format, offset)
            entries.append(
                struct.pack(order + entry_format, tag, kind, len(values))
                + value.ljust(inline, b"\0")
            )
        return entries, blobs

    _, blobs = build()
    data_at = blob_at + len(blobs)
    tags[273] = (4, [data_at + k * (len(data) // n_strips) for k in range(n_strips)])
    entries, blobs = build()
    directory = struct.pack(order + count_format, len(tags)) + b"".join(entries)
    return header + directory + struct.pack(order + offset_format, 0) + blobs + data


def _read_eagerly_and_by_windows(path: Path) -> tuple[Any, Any]:
    """read_scene into memory, and lazily with every pixel read through windows (radius 2)."""

    def by_windows() -> np.ndarray:
        scene = read_scene(path, lazy=True)
        return read_halo_block(scene.cube, slice(None), slice(None), 2)[2:-2, 2:-2]

    return outcome(lambda: read_scene(path, lazy=False), path), outcome(by_windows, path)


@FUZZ
@given(
    layout=GEOTIFF_LAYOUTS,
    shape=st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
    cut=st.floats(0.0, 1.0, exclude_max=True),
)
def test_truncated_geotiffs(
    layout: tuple, shape: tuple[int, int, int], seed: int, cut: float
) -> None:
    """A GeoTIFF cut at any byte, read into memory and by windows: a FileFormatError naming
    it, or the original cube exactly."""
    cube = np.abs(_cube(seed, *shape) * 1000).astype(layout[0])
    with _folder() as folder:
        path = _write_geotiff(folder / "scene.tif", cube, layout)
        content = path.read_bytes()
        path.write_bytes(content[: int(cut * len(content))])
        for result in _read_eagerly_and_by_windows(path):
            if isinstance(result, ExploreError):
                assert isinstance(result, FileFormatError), result
            else:
                cube_read = result.cube if isinstance(result, Scene) else result
                np.testing.assert_array_equal(cube_read, cube)


@FUZZ
@given(
    layout=GEOTIFF_LAYOUTS,
    shape=st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
    flips=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 400), st.floats(0.0, 1.0, exclude_max=True)),
            st.integers(1, 255),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_corrupted_geotiffs(
    layout: tuple, shape: tuple[int, int, int], seed: int, flips: list[tuple[Any, int]]
) -> None:
    """1-6 bytes changed: in the header and first IFD (an integer position: tags, strip /
    tile offsets and counts, GeoKeys) or anywhere (a fraction of the size): a typed error or
    some valid scene, read into memory and by windows."""
    cube = np.abs(_cube(seed, *shape) * 1000).astype(layout[0])
    with _folder() as folder:
        path = _write_geotiff(folder / "scene.tif", cube, layout)
        content = bytearray(path.read_bytes())
        for position, xor in flips:
            where = position if isinstance(position, int) else int(position * len(content))
            content[where % len(content)] ^= xor
        path.write_bytes(bytes(content))
        for result in _read_eagerly_and_by_windows(path):
            assert isinstance(result, Scene | np.ndarray | ExploreError)


TIFF_SIDES = st.one_of(st.integers(0, 5), st.sampled_from([2**15, 2**16 - 1, 2**31 - 1, 2**32 - 1]))


@FUZZ
@given(
    width=TIFF_SIDES,
    height=TIFF_SIDES,
    bands=st.one_of(st.integers(0, 5), st.sampled_from([2**14, 10_001, 2**16 - 1])),
    bits=st.sampled_from([1, 8, 12, 16, 32, 64, 0, 7, 128]),
    sample_format=st.sampled_from([1, 2, 3, 4, 5, 6, 0, 9]),  # 5, 6: complex; 4: void
    compression=st.sampled_from([1, 5, 8, 32773, 50000, 34925, 7, 2, 99, 0]),
    planar=st.sampled_from([1, 2, 0, 3]),
    data=st.binary(max_size=300),
    big=st.booleans(),
    order=st.sampled_from(["<", ">"]),
)
def test_geotiff_headers(
    width: int,
    height: int,
    bands: int,
    bits: int,
    sample_format: int,
    compression: int,
    planar: int,
    data: bytes,
    big: bool,
    order: str,
) -> None:
    """A hand-written IFD declaring any size (up to 2**32 - 1 pixels a side, 65,535 bands),
    bit depth, sample format (complex, void) and compression over at most 300 bytes: refused
    before anything is allocated (no MemoryError, no hang), or a cube the bytes can hold."""
    with _folder() as folder:
        path = folder / "crafted.tif"
        path.write_bytes(
            _raw_tiff(
                width,
                height,
                bands,
                bits=bits,
                sample_format=sample_format,
                compression=compression,
                planar=planar,
                data=data,
                big=big,
                order=order,
            )
        )
        size = path.stat().st_size
        for lazy in (False, True):  # into memory; by windows (what a huge cube would get)
            result = outcome(lambda lazy=lazy: read_scene(path, lazy=lazy), path)
            if isinstance(result, Scene):
                stored = result.cube.size * (bits if compression == 1 else 1) // 8
                assert stored <= size * (1 if compression == 1 else 1 << 16), result.cube.shape
                outcome(lambda r=result: read_halo_block(r.cube, slice(0, 1), slice(0, 1), 1))


GEOTIFF_DEGENERATE = (
    "one_pixel",
    "one_band",
    "constant_band",
    "nodata_everywhere",
    "nan_band",
    "inf_band",
    "nan_nodata_everywhere",
    "complex",
    "zero_width",
)


@FUZZ
@given(
    kind=st.sampled_from(GEOTIFF_DEGENERATE),
    layout=GEOTIFF_LAYOUTS,
    shape=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)),
    seed=st.integers(0, 2**16),
)
def test_degenerate_geotiffs(
    kind: str, layout: tuple, shape: tuple[int, int, int], seed: int
) -> None:
    """1 pixel, 1 band (an integer 1-band TIFF is a 1-band cube, not its own labels), constant
    band and nodata everywhere load exactly and standardise to finite values; NaN / Inf
    (also as nodata) are refused naming the file, into memory and when a window meets them;
    complex samples and a width of 0 are refused (FileFormatError)."""
    height, width, bands = shape
    if kind == "one_pixel":
        height = width = 1
    elif kind == "one_band":
        bands = 1
    if kind in ("nan_band", "inf_band", "nan_nodata_everywhere"):
        layout = ("float32", *layout[1:])
    elif kind == "complex":
        layout = ("complex64", *layout[1:])
    cube = np.abs(_cube(seed, height, width, bands) * 1000)
    nodata = None
    if kind == "constant_band":
        cube[:, :, seed % bands] = 3.0
    elif kind == "nodata_everywhere":
        cube[:], nodata = 1.0, 1.0
    elif kind in ("nan_band", "inf_band"):
        cube[:, :, seed % bands] = np.nan if kind == "nan_band" else np.inf
    elif kind == "nan_nodata_everywhere":
        cube[:], nodata = np.nan, np.nan
    with _folder() as folder:
        path = folder / "scene.tif"
        if kind == "zero_width":
            path.write_bytes(_raw_tiff(0, height, bands, data=bytes(4 * height * bands)))
        else:
            _write_geotiff(path, cube, layout, nodata=nodata)
        eager, by_windows = _read_eagerly_and_by_windows(path)
        if kind in ("complex", "zero_width"):
            assert isinstance(eager, FileFormatError) and isinstance(by_windows, FileFormatError)
        elif kind in ("nan_band", "inf_band", "nan_nodata_everywhere"):
            for result in (eager, by_windows):
                assert isinstance(result, DataError), result
                assert "scene.tif" in str(result) and "non-finite" in str(result)
        else:
            assert isinstance(eager, Scene), eager
            expected = cube.astype(layout[0])
            np.testing.assert_array_equal(eager.cube, expected)
            np.testing.assert_array_equal(by_windows, expected)
            assert eager.labels is None and eager.georeference is not None
            assert np.isfinite(eager.standardize().cube).all()


GEOTIFF_FOUND = {
    # was a MemoryError (numpy asked for 7.3 TiB); lazily, a 7.3 TiB WindowedCube was accepted
    "100000 x 100000 px x 200 bands declared over 64 bytes": (100_000, 100_000, 200),
    # was about 3 minutes in GDAL before its error
    "60000 bands declared over 64 bytes": (10, 10, 60_000),
}


@pytest.mark.parametrize("case", sorted(GEOTIFF_FOUND))
@pytest.mark.parametrize("lazy", [None, False, True])
def test_geotiffs_that_declare_more_than_they_hold_are_refused_at_once(
    case: str, lazy: bool | None, tmp_path: Path
) -> None:
    import time

    path = tmp_path / "huge.tif"
    path.write_bytes(_raw_tiff(*GEOTIFF_FOUND[case], data=bytes(64)))
    start = time.perf_counter()
    with pytest.raises(FileFormatError, match=r"huge\.tif (declares|holds only)"):
        read_scene(path, lazy=lazy)
    assert time.perf_counter() - start < 5


def test_a_damaged_geotiff_is_one_line_on_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GDAL's own complaints (logged by rasterio as warnings) go into the error line, not
    beside it on stderr."""
    cube = np.abs(_cube(0, 20, 20, 3) * 1000).astype("uint16")
    path = _write_geotiff(
        tmp_path / "damaged.tif", cube, ("uint16", "band", True, "deflate", False)
    )
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 16] = bytes(16)  # inside the compressed tiles
    path.write_bytes(bytes(content))
    status, err = _cli(["info", str(path)], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "damaged.tif" in lines[0] and "Traceback" not in err
