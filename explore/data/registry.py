"""Registry of benchmark datasets by name: where their files live and how to load them.

This module owns the list of known datasets (`REGISTRY`), what each one needs (files, canonical
URLs, checksums, MATLAB keys, alternative local names, quirks) and the lookup that turns a name
into files and then into a `Scene` or an `ImageSet`. Lookup order:

1. an explicit path (file or folder) given instead of a name;
2. the folders named by `EXPLORE_DATA_DIR` (os.pathsep-separated), known sub-paths first
   (e.g. ``hsi/salinas_a/``), then a bounded search (depth <= 4, a few thousand folders);
3. the download cache (`EXPLORE_CACHE_DIR`, default ``pooch.os_cache("explore")``);
   a data folder may also hold the cache's layout ``<folder>/<dataset>/<file>``, which
   `download(name, folder=...)` (``explore download --dir``) fills;
4. files shipped inside an installed package (Indian Pines in `tensorly`, digits in
   scikit-learn): the offline default scene is `DEFAULT_SCENE`;
5. a download with pooch from the canonical URL, checksum verified. Files with no published
   checksum are only downloaded with `allow_unverified=True` (or ``EXPLORE_ALLOW_UNVERIFIED=1``).

Downloads go to a temporary name in the cache and are renamed only once verified (pooch does
this), so a failed or mismatching download leaves nothing behind and a user's own files in
`EXPLORE_DATA_DIR` are never written to. Network failures become `DatasetNotFoundError` naming
the URL and the cause; mismatching content becomes `ChecksumError`.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
import tempfile
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from explore.data.class_names import CIFAR10_CLASS_NAMES
from explore.errors import ChecksumError, DataError, DatasetNotFoundError, FileFormatError

if TYPE_CHECKING:
    from explore.data.images import ImageSet
    from explore.data.scene import Scene

__all__ = [
    "DEFAULT_SCENE",
    "REGISTRY",
    "DataFile",
    "DatasetEntry",
    "availability",
    "cache_dir",
    "data_dirs",
    "download",
    "get_entry",
    "is_available",
    "list_datasets",
    "load_dataset",
    "load_images",
    "load_scene",
    "locate",
]

DEFAULT_SCENE = "indian_pines"
"""The scene every tool falls back to: real, and available offline through `tensorly`."""

DATA_DIR_ENV = "EXPLORE_DATA_DIR"
CACHE_DIR_ENV = "EXPLORE_CACHE_DIR"
ALLOW_UNVERIFIED_ENV = "EXPLORE_ALLOW_UNVERIFIED"
TIMEOUT_ENV = "EXPLORE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0

# The bounded search below each data folder: deep enough for <dir>/hsi/<scene>/<file>, small
# enough that pointing EXPLORE_DATA_DIR at a home folder does not walk the whole disk.
_MAX_SEARCH_DEPTH = 4
_MAX_SEARCH_FOLDERS = 5000

Role = str  # "cube", "labels", "images"
Kind = Literal["hsi", "images"]
Reader = Literal["scene", "unmixing", "idx", "cifar", "image_folder", "sklearn_digits"]


# ---------------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class DataFile:
    """One file a dataset needs, and every way to find it.

    `name` is the canonical file name (as downloaded into the cache); `alternatives` are other
    local names holding the same content in another form (e.g. a `.npy` copy of a `.mat` cube,
    or a folder of JPEGs standing for an archive). `known_hash` ("sha256:<hex>" or "md5:<hex>")
    is the checksum of the canonical file, None when no public checksum exists (then a download
    needs `allow_unverified`). `key` is the MATLAB variable; `alternative_keys` are the
    variables used by the alternative copies. `package_path` is the file's path inside the
    entry's `package` when a wheel ships it. `extract` marks a zip archive to unpack.
    """

    role: Role
    name: str
    url: str | None
    known_hash: str | None
    key: str | None = None
    alternatives: tuple[str, ...] = ()
    alternative_keys: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    size_bytes: int | None = None
    package_path: str | None = None
    extract: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name, then the alternatives, in order of preference."""
        return (self.name, *self.alternatives)

    @property
    def urls(self) -> tuple[str, ...]:
        """The canonical URL, then the mirrors."""
        return tuple(url for url in (self.url, *self.mirrors) if url)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key in (self.key, *self.alternative_keys) if key)


@dataclass(frozen=True)
class DatasetEntry:
    """A named benchmark dataset.

    `shape` is what loading gives: (H, W, B) for a scene, (N, C, H, W) for an image set.
    `class_names[c]` names the c-th class in label order (for scenes, labels 1..C after
    `Scene`'s remapping). `local_dirs` are sub-paths of a data folder searched first. `package`
    names the installed package that ships the files (see `DataFile.package_path`).
    `max_per_class` defines a class-balanced subset (the first images of each class), applied
    whatever the source, so local and downloaded copies give the same set. `wavelengths`, when
    set, returns one wavelength (nm) per band.
    """

    name: str
    kind: Kind
    description: str
    shape: tuple[int, ...]
    n_classes: int
    class_names: tuple[str, ...]
    files: tuple[DataFile, ...]
    reader: Reader
    quirks: tuple[str, ...] = ()
    local_dirs: tuple[str, ...] = ()
    package: str | None = None
    max_per_class: int | None = None
    source: str = ""
    wavelengths: Callable[[], np.ndarray | None] | None = field(
        default=None, repr=False, compare=False
    )

    def file(self, role: Role) -> DataFile:
        """The file playing `role` ("cube", "labels", "images")."""
        for data_file in self.files:
            if data_file.role == role:
                return data_file
        raise DatasetNotFoundError(
            f"dataset {self.name!r} has no {role!r} file; roles: {[f.role for f in self.files]}"
        )


@cache
def _indian_pines_wavelengths() -> np.ndarray | None:
    """The 200 band centres (nm) that `tensorly` ships with its Indian Pines copy."""
    try:
        from tensorly.datasets import load_indian_pines
    except ImportError:
        return None
    wavelengths = np.asarray(load_indian_pines()["ticks"][1], dtype=np.float64)
    wavelengths.setflags(write=False)
    return wavelengths


_EHU = "http://www.ehu.eus/ccwintco/uploads"
_EHU_ES = "http://www.ehu.es/ccwintco/uploads"
_SALINAS_CLASSES = (
    "Brocoli_green_weeds_1",
    "Brocoli_green_weeds_2",
    "Fallow",
    "Fallow_rough_plow",
    "Fallow_smooth",
    "Stubble",
    "Celery",
    "Grapes_untrained",
    "Soil_vinyard_develop",
    "Corn_senesced_green_weeds",
    "Lettuce_romaine_4wk",
    "Lettuce_romaine_5wk",
    "Lettuce_romaine_6wk",
    "Lettuce_romaine_7wk",
    "Vinyard_untrained",
    "Vinyard_vertical_trellis",
)
_RSSCN7_COMMIT = "6d77849df87d242b323184ab096e44dd63730c7e"
_SAMSON_COMMIT = "c4feec2c8126c760eb517713a55ee757c2b3552f"

_ENTRIES = (
    DatasetEntry(
        name="indian_pines",
        kind="hsi",
        description="AVIRIS, Indiana 1992: 145 x 145 px, 200 bands (water bands removed), "
        "16 crop / vegetation classes",
        shape=(145, 145, 200),
        n_classes=16,
        class_names=(
            "Alfalfa",
            "Corn-notill",
            "Corn-mintill",
            "Corn",
            "Grass-pasture",
            "Grass-trees",
            "Grass-pasture-mowed",
            "Hay-windrowed",
            "Oats",
            "Soybean-notill",
            "Soybean-mintill",
            "Soybean-clean",
            "Wheat",
            "Woods",
            "Buildings-Grass-Trees-Drives",
            "Stone-Steel-Towers",
        ),
        files=(
            DataFile(
                role="cube",
                name="Indian_pines_corrected.mat",
                url=f"{_EHU}/6/67/Indian_pines_corrected.mat",
                # From the Git-LFS pointer in utat-ss/FINCH-destriping @ b59bcb44.
                known_hash="sha256:ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939",
                key="indian_pines_corrected",
                alternatives=("Indian_pines_corrected.npy",),
                size_bytes=5_953_527,
                package_path="datasets/data/Indian_pines_corrected.npy",
            ),
            DataFile(
                role="labels",
                name="Indian_pines_gt.mat",
                url=f"{_EHU}/c/c4/Indian_pines_gt.mat",
                # sha256 of the original EHU file (a byte copy from shinyypig/
                # hyperspectral_image_toolbox @ ac3168c3, header dated 20 May 2011).
                known_hash="sha256:65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
                key="indian_pines_gt",
                alternatives=("Indian_pines_gt.npy",),
                size_bytes=1_125,
                package_path="datasets/data/Indian_pines_gt.npy",
            ),
        ),
        reader="scene",
        quirks=(
            "tensorly ships the cube and ground truth as .npy: the offline default scene",
            "wavelengths (200, nm) come from tensorly's copy",
        ),
        local_dirs=("hsi/indian_pines", "indian_pines"),
        package="tensorly",
        source="Purdue PURR doi:10.4231/R7RX991C; "
        "http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
        wavelengths=_indian_pines_wavelengths,
    ),
    DatasetEntry(
        name="salinas_a",
        kind="hsi",
        description="AVIRIS, Salinas Valley subscene: 83 x 86 px, 204 bands, 6 classes",
        shape=(83, 86, 204),
        n_classes=6,
        class_names=(
            "Brocoli_green_weeds_1",
            "Corn_senesced_green_weeds",
            "Lettuce_romaine_4wk",
            "Lettuce_romaine_5wk",
            "Lettuce_romaine_6wk",
            "Lettuce_romaine_7wk",
        ),
        files=(
            DataFile(
                role="cube",
                name="SalinasA_corrected.mat",
                url=f"{_EHU}/1/1a/SalinasA_corrected.mat",
                known_hash="sha256:d75684ed3ab71a1024cee0f9db9061f50a3523a92ff5edfbbb1eed976b9f1721",
                key="salinasA_corrected",
                size_bytes=1_539_086,
            ),
            DataFile(
                role="labels",
                name="SalinasA_gt.mat",
                url=f"{_EHU}/a/aa/SalinasA_gt.mat",
                # sha256 of the original EHU file (byte copy from AngryCai/GraphConvSC @ 00d051f8).
                known_hash="sha256:17814c1d3296c0e29b27f320f2c4174d2a68adb87e376abe78f02923e2c2e454",
                key="salinasA_gt",
                size_bytes=587,
            ),
        ),
        reader="scene",
        quirks=(
            "label values are 1, 10, 11, 12, 13, 14 (Salinas' class ids); Scene remaps them "
            "to 1..6 and keeps the originals in label_values",
            "SalinasA.mat (224 raw bands) is a different file: this entry is the corrected cube",
        ),
        local_dirs=("hsi/salinas_a", "salinas_a"),
        source="http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    ),
    DatasetEntry(
        name="samson",
        kind="hsi",
        description="Samson unmixing benchmark: 95 x 95 px, 156 bands, 3 endmembers; hard "
        "labels are the argmax of the ground-truth abundances",
        shape=(95, 95, 156),
        n_classes=3,
        class_names=("rock/soil", "tree", "water"),
        files=(
            DataFile(
                role="cube",
                name="samson_dataset.mat",
                # No public checksum exists for Samson (Zhu's original page distributes
                # samson_1.mat + end3.mat). This points at the raw file of the repository the
                # local copy comes from, at the recorded commit; the hash is that byte copy's.
                url="https://raw.githubusercontent.com/hanzhu97702/IEEE_TGRS_CyCU-Net/"
                f"{_SAMSON_COMMIT}/data/samson_dataset.mat",
                known_hash="sha256:1e8c96dc7da75443783e91d6ad0305715ab0862e3eb2ed48bc0ccf9c02656f84",
                key="Y",
                size_bytes=3_739_868,
            ),
        ),
        reader="unmixing",
        quirks=(
            "unmixing layout: Y (156, 9025) with pixels in MATLAB column-major order, "
            "so the cube is Y.T.reshape(95, 95, 156, order='F')",
            "labels are argmax of the abundances A (3, 9025): 3015 / 3666 / 2344 pixels",
        ),
        local_dirs=("hsi/samson", "samson"),
        source="https://rslab.ut.ac.ir/data (normalised re-packaging from "
        "hanzhu97702/IEEE_TGRS_CyCU-Net)",
    ),
    DatasetEntry(
        name="pavia_university",
        kind="hsi",
        description="ROSIS, Pavia University: 610 x 340 px, 103 bands, 9 urban classes",
        shape=(610, 340, 103),
        n_classes=9,
        class_names=(
            "Asphalt",
            "Meadows",
            "Gravel",
            "Trees",
            "Painted metal sheets",
            "Bare Soil",
            "Bitumen",
            "Self-Blocking Bricks",
            "Shadows",
        ),
        files=(
            DataFile(
                role="cube",
                name="PaviaU.mat",
                url=f"{_EHU}/e/ee/PaviaU.mat",
                known_hash="sha256:28447fa87f7a5797845e9a189c0da85e23b1d06a4ba7361e5ff44efbf834d2fb",
                key="paviaU",
                size_bytes=34_806_917,
            ),
            DataFile(
                role="labels",
                name="PaviaU_gt.mat",
                url=f"{_EHU}/5/50/PaviaU_gt.mat",
                # sha256 of the original EHU file (byte copy from ShukunZhang/LLPD @ d4f2ebf2).
                known_hash="sha256:23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
                key="paviaU_gt",
                size_bytes=11_005,
            ),
        ),
        reader="scene",
        local_dirs=("hsi/pavia_university", "hsi/gt_only", "pavia_university"),
        source="http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    ),
    DatasetEntry(
        name="salinas",
        kind="hsi",
        description="AVIRIS, Salinas Valley: 512 x 217 px, 204 bands, 16 classes",
        shape=(512, 217, 204),
        n_classes=16,
        class_names=_SALINAS_CLASSES,
        files=(
            DataFile(
                role="cube",
                name="Salinas_corrected.mat",
                url=f"{_EHU}/a/a3/Salinas_corrected.mat",
                known_hash="sha256:5ec1c0d22f56d18ecd336f8e35735863c0f160682e04e0c18ef3f89a3334d87d",
                key="salinas_corrected",
                size_bytes=26_552_770,
            ),
            DataFile(
                role="labels",
                name="Salinas_gt.mat",
                url=f"{_EHU}/f/fa/Salinas_gt.mat",
                known_hash=None,  # the local copy is a v7.3 re-save, not the EHU original
                key="salinas_gt",
                alternatives=("Salinas_gt_v73.mat",),
                alternative_keys=("gt",),
            ),
        ),
        reader="scene",
        quirks=(
            "Salinas_gt_v73.mat is MATLAB v7.3 (HDF5, key 'gt') stored (217, 512): the reader "
            "transposes it back to 512 x 217",
        ),
        local_dirs=("hsi/salinas", "hsi/gt_only", "salinas"),
        source="http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    ),
    DatasetEntry(
        name="ksc",
        kind="hsi",
        description="AVIRIS, Kennedy Space Center: 512 x 614 px, 176 bands, 13 classes",
        shape=(512, 614, 176),
        n_classes=13,
        class_names=(
            "Scrub",
            "Willow swamp",
            "Cabbage palm hammock",
            "Cabbage palm/oak hammock",
            "Slash pine",
            "Oak/broadleaf hammock",
            "Hardwood swamp",
            "Graminoid marsh",
            "Spartina marsh",
            "Cattail marsh",
            "Salt marsh",
            "Mud flats",
            "Water",
        ),
        files=(
            DataFile(
                role="cube",
                name="KSC.mat",
                url=f"{_EHU_ES}/2/26/KSC.mat",
                known_hash="sha256:b1ad011cfdb65c853e4f9f6108ca4774467d87f90a5c23b74ff3a2984a3b4786",
                key="KSC",
                size_bytes=56_824_624,
            ),
            DataFile(
                role="labels",
                name="KSC_gt.mat",
                url=f"{_EHU_ES}/a/a6/KSC_gt.mat",
                known_hash=None,  # the local copy is a v7.3 re-save, not the EHU original
                key="KSC_gt",
                alternatives=("KSC_gt_v73.mat",),
                alternative_keys=("gt",),
            ),
        ),
        reader="scene",
        quirks=(
            "served from ehu.es, not ehu.eus",
            "KSC_gt_v73.mat is MATLAB v7.3 (HDF5, key 'gt') stored (614, 512): the reader "
            "transposes it back to 512 x 614",
        ),
        local_dirs=("hsi/ksc", "hsi/gt_only", "ksc"),
        source="http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    ),
    DatasetEntry(
        name="botswana",
        kind="hsi",
        description="Hyperion (EO-1), Okavango Delta: 1476 x 256 px, 145 bands, 14 classes",
        shape=(1476, 256, 145),
        n_classes=14,
        class_names=(
            "Water",
            "Hippo grass",
            "Floodplain grasses 1",
            "Floodplain grasses 2",
            "Reeds",
            "Riparian",
            "Firescar",
            "Island interior",
            "Acacia woodlands",
            "Acacia shrublands",
            "Acacia grasslands",
            "Short mopane",
            "Mixed mopane",
            "Exposed soils",
        ),
        files=(
            DataFile(
                role="cube",
                name="Botswana.mat",
                url=f"{_EHU_ES}/7/72/Botswana.mat",
                known_hash="sha256:f1603903c844cdc2980550b0180688e8e1a72d4292595d1120e1dec2a80a91c7",
                key="Botswana",
                size_bytes=78_911_133,
            ),
            DataFile(
                role="labels",
                name="Botswana_gt.mat",
                url=f"{_EHU_ES}/5/58/Botswana_gt.mat",
                known_hash=None,  # no public checksum recorded
                key="Botswana_gt",
            ),
        ),
        reader="scene",
        quirks=("served from ehu.es, not ehu.eus",),
        local_dirs=("hsi/botswana", "hsi/gt_only", "botswana"),
        source="http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    ),
    DatasetEntry(
        name="mnist_test",
        kind="images",
        description="MNIST test split: 10,000 handwritten digits, 28 x 28 gray, 10 classes",
        shape=(10000, 1, 28, 28),
        n_classes=10,
        class_names=tuple(str(digit) for digit in range(10)),
        files=(
            DataFile(
                role="images",
                name="t10k-images-idx3-ubyte.gz",
                url="http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz",
                # md5 9fb629c4189551a2d022fa330f9573f3, as in the canonical md5sums.
                known_hash="sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                mirrors=(
                    "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                ),
                size_bytes=1_648_877,
            ),
            DataFile(
                role="labels",
                name="t10k-labels-idx1-ubyte.gz",
                url="http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz",
                # md5 ec29112dd5afa0611ce80d1b7f02629c, as in the canonical md5sums.
                known_hash="sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                mirrors=(
                    "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
                ),
                size_bytes=4_542,
            ),
        ),
        reader="idx",
        quirks=("yann.lecun.com often refuses downloads; the torchvision S3 mirror is tried next",),
        local_dirs=("digits/mnist", "mnist"),
        source="http://yann.lecun.com/exdb/mnist/",
    ),
    DatasetEntry(
        name="digits",
        kind="images",
        description="scikit-learn's digits (UCI optdigits): 1,797 images, 8 x 8 gray, 10 classes",
        shape=(1797, 1, 8, 8),
        n_classes=10,
        class_names=tuple(str(digit) for digit in range(10)),
        files=(
            DataFile(
                role="images",
                name="digits.csv.gz",
                url=None,
                known_hash=None,
                package_path="datasets/data/digits.csv.gz",
            ),
        ),
        reader="sklearn_digits",
        quirks=("shipped with scikit-learn: always available, never downloaded",),
        package="sklearn",
        source="https://archive.ics.uci.edu/dataset/80",
    ),
    DatasetEntry(
        name="cifar10_subset",
        kind="images",
        description="CIFAR-10 test split, first 100 images of each class: 1,000 images, "
        "32 x 32 RGB, 10 classes",
        shape=(1000, 3, 32, 32),
        n_classes=10,
        class_names=CIFAR10_CLASS_NAMES,
        files=(
            DataFile(
                role="images",
                name="cifar-10-python.tar.gz",
                url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                known_hash="md5:c58f30108f718f92721af3b95e74349a",  # as torchvision records it
                alternatives=("cifar10_test_subset",),
                size_bytes=170_498_071,
            ),
        ),
        reader="cifar",
        max_per_class=100,
        quirks=(
            "the local folder cifar10_test_subset holds JPEG re-encodings (YoongiKim/"
            "CIFAR-10-images); the download is the canonical pickled archive, so the two "
            "subsets hold the same images but are not byte-identical",
            "the download is the whole 163 MB archive; only its test batch is read",
        ),
        local_dirs=("natural",),
        source="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    DatasetEntry(
        name="rsscn7_subset",
        kind="images",
        description="RSSCN7 remote-sensing scenes, first 50 images of each class: 350 images, "
        "400 x 400 RGB, 7 classes",
        shape=(350, 3, 400, 400),
        n_classes=7,
        class_names=(
            "aGrass",
            "bField",
            "cIndustry",
            "dRiverLake",
            "eForest",
            "fResident",
            "gParking",
        ),
        files=(
            DataFile(
                role="images",
                name=f"RSSCN7-{_RSSCN7_COMMIT}.zip",
                url=f"https://github.com/palewithout/RSSCN7/archive/{_RSSCN7_COMMIT}.zip",
                known_hash=None,  # GitHub archives have no published (or stable) checksum
                alternatives=("rsscn7_subset",),
                extract=True,
            ),
        ),
        reader="image_folder",
        max_per_class=50,
        quirks=(
            "the download is the whole repository archive (2,800 images, about 370 MB); "
            "the first 50 of each class are read",
            "400 x 400 images: pass size= to load them smaller",
        ),
        local_dirs=("remote_sensing",),
        source="https://github.com/palewithout/RSSCN7 (Zou et al., IEEE GRSL 2015)",
    ),
)

REGISTRY: dict[str, DatasetEntry] = {entry.name: entry for entry in _ENTRIES}


def list_datasets() -> list[DatasetEntry]:
    """Every registered dataset, scenes first, then image sets, each in registry order."""
    return sorted(REGISTRY.values(), key=lambda entry: entry.kind != "hsi")


def _normalise(name: str) -> str:
    """Registry spelling of a name: "Salinas-A" -> "salinas_a"."""
    return name.strip().lower().replace("-", "_")


def get_entry(name: str | DatasetEntry) -> DatasetEntry:
    """The registry entry called `name` (an entry passes through unchanged).

    Raises DatasetNotFoundError listing the closest registered names.
    """
    if isinstance(name, DatasetEntry):
        return name
    key = _normalise(str(name))
    if key in REGISTRY:
        return REGISTRY[key]
    close = difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    raise DatasetNotFoundError(
        f"unknown dataset {name!r}; {hint}known datasets: {', '.join(sorted(REGISTRY))}"
    )


# ---------------------------------------------------------------------------------- folders
def data_dirs() -> list[Path]:
    """The folders named by EXPLORE_DATA_DIR (os.pathsep-separated), in order; may be empty."""
    configured = os.environ.get(DATA_DIR_ENV, "")
    return [Path(part).expanduser() for part in configured.split(os.pathsep) if part.strip()]


def cache_dir() -> Path:
    """The download cache: EXPLORE_CACHE_DIR, else pooch's per-user cache folder "explore"."""
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import pooch

    return Path(pooch.os_cache("explore"))


def _timeout() -> float:
    configured = os.environ.get(TIMEOUT_ENV, "").strip()
    if not configured:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(configured)
    except ValueError as error:
        raise DataError(f"{TIMEOUT_ENV} must be a number of seconds; got {configured!r}") from error
    if seconds <= 0:
        raise DataError(f"{TIMEOUT_ENV} must be > 0 seconds; got {seconds}")
    return seconds


def _unverified_allowed(allow_unverified: bool) -> bool:
    flag = os.environ.get(ALLOW_UNVERIFIED_ENV, "").strip().lower()
    return allow_unverified or flag in ("1", "true", "yes", "on")


def _search_folder(root: Path, names: set[str], known_subdirs: Iterable[str]) -> dict[str, Path]:
    """Name -> path of the `names` found below `root`: first directly in `root` and its known
    sub-folders, then breadth-first to depth _MAX_SEARCH_DEPTH over at most
    _MAX_SEARCH_FOLDERS folders (hidden folders and symlinked folders are skipped)."""
    found: dict[str, Path] = {}
    for subdir in ("", *known_subdirs):
        for name in names - found.keys():
            candidate = root / subdir / name
            if candidate.exists():
                found[name] = candidate
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    visited = 0
    while queue and names - found.keys() and visited < _MAX_SEARCH_FOLDERS:
        folder, depth = queue.popleft()
        visited += 1
        try:
            children = sorted(os.scandir(folder), key=lambda child: child.name)
        except OSError:
            continue
        for child in children:
            if child.name in names and child.name not in found:
                found[child.name] = Path(child.path)
            if (
                depth + 1 < _MAX_SEARCH_DEPTH
                and not child.name.startswith(".")
                and child.is_dir(follow_symlinks=False)
            ):
                queue.append((Path(child.path), depth + 1))
    return found


def _package_dir(package: str) -> Path | None:
    """The installed folder of `package`, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# ---------------------------------------------------------------------------------- checksums
_verified: dict[tuple[str, int, int, str], bool] = {}


def _hash_matches(path: Path, known_hash: str) -> bool:
    """Whether `path` has the checksum `known_hash` (memoised on path, size and mtime)."""
    import pooch

    stat = path.stat()
    memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, known_hash)
    if memo_key not in _verified:
        algorithm, _, expected = known_hash.partition(":")
        _verified[memo_key] = pooch.file_hash(str(path), alg=algorithm) == expected.lower()
    return _verified[memo_key]


# ---------------------------------------------------------------------------------- lookup
Origin = Literal["local", "cache", "package"]


@dataclass
class _Resolution:
    """Where each file of an entry was found, and which are still missing."""

    entry: DatasetEntry
    found: dict[Role, tuple[Path, Origin]] = field(default_factory=dict)
    missing: list[DataFile] = field(default_factory=list)
    looked_in: list[str] = field(default_factory=list)

    def paths(self) -> dict[Role, Path]:
        return {role: path for role, (path, _) in self.found.items()}


def _cached_path(
    entry: DatasetEntry, data_file: DataFile, *, replaceable: bool, root: Path | None = None
) -> Path | None:
    """The file (or, for an archive, its extracted folder) in the download layout
    ``<root>/<dataset>/<file>`` of the cache (`root` None) or of a folder filled by
    `download(..., folder=root)`, if there and sound.

    A downloaded file whose checksum does not match was not put there by a verified download:
    it counts as missing when `replaceable` (a download is about to replace it), else it raises
    ChecksumError.
    """
    folder = (cache_dir() if root is None else root) / entry.name
    if data_file.extract:
        extracted = folder / _extract_dir_name(data_file)
        if extracted.is_dir():
            return _archive_root(extracted)
    path = folder / data_file.name
    if not path.is_file():
        return None
    if data_file.known_hash and not _hash_matches(path, data_file.known_hash):
        if replaceable:
            return None
        raise ChecksumError(
            f"downloaded file {path} does not match its recorded checksum "
            f"{data_file.known_hash}: delete it, or load with download=True to fetch it again "
            "(the download replaces it)"
        )
    if data_file.extract:
        # Unpacked beside the archive in the cache; an archive in a data folder that nobody
        # unpacked is unpacked into the cache, never into the user's folder.
        return _extract(path, data_file, into=None if root is None else cache_dir() / entry.name)
    return path


def _escapes(path: Path, root: Path) -> Path | None:
    """Where `path` really leads (symlinks followed) when that is outside `root`, else None.
    For a folder, every symlink below it is checked too."""
    try:
        real_root = root.resolve()
        candidates = [path]
        if path.is_dir():
            for folder, subfolders, files in os.walk(path):
                candidates.extend(
                    Path(folder, name)
                    for name in (*subfolders, *files)
                    if os.path.islink(os.path.join(folder, name))
                )
        for candidate in candidates:
            real = candidate.resolve()
            if not real.is_relative_to(real_root):
                return real
    except (OSError, RuntimeError):  # a symlink loop, a vanished file
        return path
    return None


def _resolve(
    entry: DatasetEntry, *, replaceable: bool = False, confined: bool = False
) -> _Resolution:
    """Find each of `entry`'s files: data folders, then the cache, then the shipping package.
    `replaceable`: a corrupt cached file counts as missing instead of raising ChecksumError.
    `confined`: a file whose real path (symlinks followed) leaves the folder it was found in
    counts as missing (noted in `looked_in`)."""
    resolution = _Resolution(entry)
    wanted = {name for data_file in entry.files for name in data_file.names}
    dirs = data_dirs()
    hits: list[tuple[Path, dict[str, Path]]] = []
    for root in dirs:
        if root.is_dir():
            hits.append((root, _search_folder(root, wanted, entry.local_dirs)))
            resolution.looked_in.append(f"{root} ({DATA_DIR_ENV})")
        else:
            resolution.looked_in.append(f"{root} ({DATA_DIR_ENV}; not a folder)")
    if not dirs:
        resolution.looked_in.append(f"no data folder ({DATA_DIR_ENV} is not set)")
    resolution.looked_in.append(f"{cache_dir() / entry.name} (download cache)")
    package_dir = _package_dir(entry.package) if entry.package else None
    if entry.package:
        resolution.looked_in.append(
            f"the installed {entry.package!r} package" + ("" if package_dir else " (not installed)")
        )

    def admitted(path: Path | None, root: Path) -> Path | None:
        if path is None or not confined:
            return path
        real = _escapes(path, root)
        if real is None:
            return path
        resolution.looked_in.append(f"{path} (refused: leads to {real}, outside {root})")
        return None

    for data_file in entry.files:
        path: Path | None = None
        origin: Origin = "local"
        for root, found in hits:
            # A folder filled by `download(..., folder=root)` first: its archives unpacked.
            path = _cached_path(entry, data_file, replaceable=replaceable, root=root)
            if path is None:
                path = next((found[name] for name in data_file.names if name in found), None)
                if path is not None and data_file.extract and path.name == data_file.name:
                    path = _extract(path, data_file, into=cache_dir() / entry.name)
            unpacked_in_cache = path is not None and not path.is_relative_to(root)
            path = admitted(path, cache_dir() / entry.name if unpacked_in_cache else root)
            if path is not None:
                break
        if path is None:
            path, origin = _cached_path(entry, data_file, replaceable=replaceable), "cache"
            path = admitted(path, cache_dir() / entry.name)
        if path is None and package_dir is not None and data_file.package_path:
            candidate = package_dir / data_file.package_path
            path, origin = (candidate, "package") if candidate.is_file() else (None, origin)
            path = admitted(path, package_dir)
        if path is None:
            resolution.missing.append(data_file)
        else:
            resolution.found[data_file.role] = (path, origin)
    return resolution


def _size_text(data_file: DataFile) -> str:
    if data_file.size_bytes is None:
        return ""
    return f", {data_file.size_bytes / 1e6:.1f} MB" if data_file.size_bytes >= 1e5 else ""


def _not_found_message(resolution: _Resolution) -> str:
    entry = resolution.entry
    fetch = "; ".join(
        f"{data_file.name} at {data_file.url or 'no URL'}{_size_text(data_file)}"
        for data_file in resolution.missing
    )
    roles = {data_file.role for data_file in resolution.missing}
    if "cube" in roles and "labels" in resolution.found:
        labels_path = resolution.found["labels"][0]
        head = f"dataset {entry.name!r}: ground truth only locally ({labels_path}); cube {fetch}"
    else:
        names = ", ".join(" or ".join(data_file.names) for data_file in resolution.missing)
        head = f"dataset {entry.name!r}: {names} not found; fetch {fetch}"
    return (
        f"{head}. Looked in: {'; '.join(resolution.looked_in)}. Put the file(s) in a data "
        f"folder, run `explore download {entry.name}`, or load with download=True to fetch "
        "them into the cache"
    )


def _extract_dir_name(data_file: DataFile) -> str:
    return data_file.name.removesuffix(".zip") + ".unzip"


def _archive_root(folder: Path) -> Path:
    """The folder that holds the content: descend while `folder` holds nothing visible but a
    single sub-folder (GitHub archives wrap everything in `<repository>-<commit>/`)."""
    while True:
        children = [child for child in folder.iterdir() if not child.name.startswith(".")]
        if len(children) != 1 or not children[0].is_dir():
            return folder
        folder = children[0]


def _extract(archive: Path, data_file: DataFile, into: Path | None = None) -> Path:
    """Unpack a zip archive (once) next to itself, or into the folder `into`, and return its
    content folder."""
    target = archive.parent / _extract_dir_name(data_file)
    if into is not None and not target.is_dir():
        target = into / _extract_dir_name(data_file)
        target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_dir():
        # Unpack into a temporary folder renamed at the end: an interrupted run leaves no
        # half-filled folder that would later pass for the dataset.
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(partial)  # refuses absolute and ".." member paths
            os.replace(partial, target)
        except (zipfile.BadZipFile, OSError) as error:
            if not target.is_dir():  # else another process unpacked it first: use theirs
                raise FileFormatError(f"cannot unpack archive {archive}: {error}") from error
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
    return _archive_root(target)


def _download(
    entry: DatasetEntry, data_file: DataFile, *, root: Path | None = None, progress: bool = False
) -> Path:
    """Fetch one file into ``<root>/<dataset>/`` (default root: the cache), checksum
    verified; the URLs are tried in order while the failure is the network's. `progress`
    shows a bar on stderr. Returns the file (or the extracted folder)."""
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")
    folder = (cache_dir() if root is None else root) / entry.name
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=_timeout())
    failures = []
    for url in data_file.urls:
        try:
            path = Path(
                pooch.retrieve(
                    url,
                    known_hash=data_file.known_hash,
                    fname=data_file.name,
                    path=folder,
                    downloader=downloader,
                )
            )
        except requests.RequestException as error:
            failures.append(f"{url}: {type(error).__name__}: {error}")
            continue
        except ValueError as error:
            if "hash" not in str(error).lower():
                raise
            raise ChecksumError(
                f"download of {data_file.name} for dataset {entry.name!r} from {url} does not "
                f"match its recorded checksum {data_file.known_hash}; nothing was kept in "
                f"{folder} ({error})"
            ) from error
        return _extract(path, data_file) if data_file.extract else path
    raise DatasetNotFoundError(
        f"cannot download {data_file.name} for dataset {entry.name!r}: "
        + "; ".join(failures)
        + f". Fetch it by hand into a data folder ({DATA_DIR_ENV}) or into {folder}"
    )


def locate(
    name: str | DatasetEntry,
    *,
    download: bool = False,
    allow_unverified: bool = False,
    confined: bool = False,
) -> dict[Role, Path]:
    """Role ("cube", "labels", "images") -> path of every file of dataset `name`.

    Looks in the data folders, the cache and the shipping package (see the module docstring);
    with `download=True` fetches what is still missing into the cache. Raises
    DatasetNotFoundError saying where it looked and the URL to fetch by hand, or why a file
    is not downloaded (no published checksum and `allow_unverified` not set); ChecksumError
    when a download does not match its checksum. `confined=True` (the dashboard) refuses
    files that lead, through symlinks, outside the folder they were found in.
    """
    entry = get_entry(name)
    resolution = _resolve(entry, replaceable=download, confined=confined)
    if not resolution.missing:
        return resolution.paths()
    if not download:
        raise DatasetNotFoundError(_not_found_message(resolution))
    for data_file in resolution.missing:
        if not data_file.urls:
            raise DatasetNotFoundError(_not_found_message(resolution))
        if data_file.known_hash is None and not _unverified_allowed(allow_unverified):
            raise DatasetNotFoundError(
                f"dataset {entry.name!r}: {data_file.name} ({data_file.url}) has no published "
                "checksum, so it is not downloaded by default. Pass allow_unverified=True (or "
                f"set {ALLOW_UNVERIFIED_ENV}=1) to download it unverified, or put the file in a "
                f"data folder ({DATA_DIR_ENV})"
            )
    paths = resolution.paths()
    for data_file in resolution.missing:
        paths[data_file.role] = _download(entry, data_file)
    return paths


@dataclass(frozen=True)
class DownloadResult:
    """What `download` did for one dataset: `status` is "present" (nothing fetched; `where`
    says where it was found) or "downloaded"; `paths` maps each role to its file or folder."""

    name: str
    status: Literal["present", "downloaded"]
    where: str
    paths: dict[Role, Path]


def download(
    name: str | DatasetEntry,
    *,
    folder: str | os.PathLike[str] | None = None,
    allow_unverified: bool = False,
    progress: bool = False,
    announce: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch every missing file of dataset `name`, checksum verified, and say what was done.

    Without `folder`, files go to the download cache and nothing is fetched when the dataset
    is already on this machine (data folders, cache or shipping package). With `folder`, the
    files go to ``<folder>/<name>/`` (archives unpacked beside them) unless already there;
    such a folder works as a data folder (`EXPLORE_DATA_DIR`). Files without a published
    checksum are fetched only with `allow_unverified` (or ``EXPLORE_ALLOW_UNVERIFIED=1``):
    DatasetNotFoundError otherwise, as for an unreachable URL; ChecksumError when a download
    does not match. `progress` shows a progress bar per file on stderr; `announce` receives a
    line before each file is fetched ("fetching <file> (<size>) from <url>")."""
    entry = get_entry(name)
    root = None if folder is None else Path(folder).expanduser()
    if root is None:
        resolution = _resolve(entry, replaceable=True)
        missing = resolution.missing
        present = resolution.paths()
    else:
        present = {}
        missing = []
        for data_file in entry.files:
            path = _cached_path(entry, data_file, replaceable=True, root=root)
            if path is None:
                missing.append(data_file)
            else:
                present[data_file.role] = path
    if not missing:
        where = availability(entry) if root is None else f"in {root / entry.name}"
        return DownloadResult(entry.name, "present", where, present)
    for data_file in missing:
        if not data_file.urls:
            raise DatasetNotFoundError(
                f"dataset {entry.name!r}: {data_file.name} has no download URL; it comes with "
                f"the {entry.package or 'shipping'} package"
            )
        if data_file.known_hash is None and not _unverified_allowed(allow_unverified):
            raise DatasetNotFoundError(
                f"dataset {entry.name!r}: {data_file.name} ({data_file.url}) has no published "
                "checksum, so it is not downloaded by default; allow unverified downloads "
                f"(--allow-unverified, or {ALLOW_UNVERIFIED_ENV}=1) to fetch it"
            )
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    for data_file in missing:
        if announce is not None:
            announce(f"fetching {data_file.name}{_size_text(data_file)} from {data_file.url}")
        present[data_file.role] = _download(entry, data_file, root=root, progress=progress)
    target = cache_dir() if root is None else root
    return DownloadResult(entry.name, "downloaded", f"in {target / entry.name}", present)


def is_available(name: str | DatasetEntry, *, confined: bool = False) -> bool:
    """Whether every file of `name` is on this machine (data folders, cache, package);
    `confined` as in `locate`."""
    try:
        return not _resolve(get_entry(name), confined=confined).missing
    except ChecksumError:
        return False


def availability(name: str | DatasetEntry) -> str:
    """One line for `explore datasets`: "local: <path>", "embedded (<package>)",
    "ground truth only: <path>", "download", or "download (unverified: needs
    allow_unverified)"."""
    entry = get_entry(name)
    try:
        resolution = _resolve(entry)
    except ChecksumError as error:
        return f"corrupt cache: {error}"
    if not resolution.missing:
        origins = {origin for _, origin in resolution.found.values()}
        if "package" in origins:
            return f"embedded ({entry.package})"
        primary = entry.files[0].role
        return f"local: {resolution.found[primary][0]}"
    missing_roles = {data_file.role for data_file in resolution.missing}
    if "cube" in missing_roles and "labels" in resolution.found:
        return f"ground truth only: {resolution.found['labels'][0]}"
    if any(data_file.known_hash is None for data_file in resolution.missing):
        return "download (unverified: needs allow_unverified)"
    return "download"


# ---------------------------------------------------------------------------------- loading
def _matlab_key(path: Path, data_file: DataFile) -> str | None:
    """The registered key that `path` holds, else None (the reader then picks the only
    suitable array). Only MATLAB and .npz files have named keys worth passing."""
    from explore.data.readers import list_arrays, sniff_format

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
    """Read the files of `entry` and check the result against the registered shape."""
    if entry.kind == "hsi":
        if size is not None:
            raise DataError(f"size= applies to image sets; {entry.name!r} is a scene")
        scene = _load_scene_files(entry, paths)
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


def _load_scene_files(entry: DatasetEntry, paths: Mapping[Role, Path]) -> Scene:
    from explore.data.readers import read_scene, read_unmixing

    cube_path = paths["cube"]
    if entry.reader == "unmixing":
        return read_unmixing(cube_path, name=entry.name, class_names=entry.class_names)
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


def _load_image_files(
    entry: DatasetEntry, paths: Mapping[Role, Path], size: tuple[int, int] | None
) -> ImageSet:
    from explore.data.images import (
        load_digits_imageset,
        read_cifar_batch,
        read_idx,
        read_image_folder,
    )

    images_path = paths["images"]
    if entry.reader == "sklearn_digits":
        images = load_digits_imageset()
    elif images_path.is_dir():
        with warnings.catch_warnings():
            # A README beside the class folders (GitHub archives) is expected, not a problem.
            warnings.filterwarnings("ignore", message=".*lying directly in", category=UserWarning)
            return read_image_folder(
                images_path, size=size, name=entry.name, max_per_class=entry.max_per_class
            )
    elif entry.reader == "idx":
        images = read_idx(images_path, paths.get("labels"), name=entry.name)
    elif entry.reader == "cifar":
        images = read_cifar_batch(images_path, name=entry.name)
    else:
        raise DataError(
            f"dataset {entry.name!r} reads a folder of class sub-folders; {images_path} is a file"
        )
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
    from explore.data.images import read_cifar_batch, read_idx, read_image_folder, read_npz_images
    from explore.data.readers import list_arrays, read_scene, sniff_format

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
    if "idx3-ubyte" in path.name:
        labels = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        images = read_idx(path, labels if labels.is_file() and labels != path else None)
    elif path.name.endswith((".tar.gz", ".tgz")) or "_batch" in path.name:
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
        from explore.data.readers import expand_user

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
    from explore.data.scene import Scene

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
