"""The catalogue of benchmark datasets, as data: one `DatasetEntry` per dataset (`REGISTRY`),
saying what loading it gives (kind, shape, class names), the files it needs (`DataFile`: canonical
names and URLs, mirrors, checksums, MATLAB keys, alternative local names, the path inside a
shipping package) and its quirks; `get_entry` looks a name up. Nothing here touches the disk or
the network: finding the files is `explore.data.locate`, reading them `explore.data.loading`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np

from explore.data.class_names import CIFAR10_CLASS_NAMES
from explore.errors import DatasetNotFoundError

DEFAULT_SCENE = "indian_pines"
"""The scene every tool falls back to: real, and available offline through `tensorly`."""

Role = str  # "cube", "labels", "images"
Kind = Literal["hsi", "images"]
Reader = Literal["scene", "unmixing", "idx", "cifar", "image_folder", "sklearn_digits"]


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
_EHU_PAGE = "http://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes"


def _ehu_file(
    role: Role, upload: str, known_hash: str | None, key: str, *, host: str = _EHU, **more: Any
) -> DataFile:
    """A file of the EHU group's hyperspectral page: `upload` is its path under the page's
    uploads folder ("6/67/Indian_pines_corrected.mat"), whose last part is the canonical name."""
    name = upload.rsplit("/", 1)[-1]
    return DataFile(
        role=role, name=name, url=f"{host}/{upload}", known_hash=known_hash, key=key, **more
    )


def _ehu_scene(
    name: str,
    description: str,
    shape: tuple[int, int, int],
    class_names: tuple[str, ...],
    cube: DataFile,
    labels: DataFile,
    *,
    gt_only: bool = False,
    **more: Any,
) -> DatasetEntry:
    """A scene of the EHU page: a cube and a ground-truth .mat read as a scene, searched in a
    data folder's `hsi/<name>` and `<name>` (and `hsi/gt_only`, where the shared data keeps the
    ground truth of scenes whose cube it lacks)."""
    folders = (f"hsi/{name}", "hsi/gt_only", name) if gt_only else (f"hsi/{name}", name)
    more.setdefault("source", _EHU_PAGE)
    return DatasetEntry(
        name=name,
        kind="hsi",
        description=description,
        shape=shape,
        n_classes=len(class_names),
        class_names=class_names,
        files=(cube, labels),
        reader="scene",
        local_dirs=folders,
        **more,
    )


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
    _ehu_scene(
        "indian_pines",
        "AVIRIS, Indiana 1992: 145 x 145 px, 200 bands (water bands removed), "
        "16 crop / vegetation classes",
        (145, 145, 200),
        (
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
        _ehu_file(
            "cube",
            "6/67/Indian_pines_corrected.mat",
            # From the Git-LFS pointer in utat-ss/FINCH-destriping @ b59bcb44.
            "sha256:ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939",
            "indian_pines_corrected",
            alternatives=("Indian_pines_corrected.npy",),
            size_bytes=5_953_527,
            package_path="datasets/data/Indian_pines_corrected.npy",
        ),
        _ehu_file(
            "labels",
            "c/c4/Indian_pines_gt.mat",
            # sha256 of the original EHU file (a byte copy from shinyypig/
            # hyperspectral_image_toolbox @ ac3168c3, header dated 20 May 2011).
            "sha256:65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
            "indian_pines_gt",
            alternatives=("Indian_pines_gt.npy",),
            size_bytes=1_125,
            package_path="datasets/data/Indian_pines_gt.npy",
        ),
        quirks=(
            "tensorly ships the cube and ground truth as .npy: the offline default scene",
            "wavelengths (200, nm) come from tensorly's copy",
        ),
        package="tensorly",
        source=f"Purdue PURR doi:10.4231/R7RX991C; {_EHU_PAGE}",
        wavelengths=_indian_pines_wavelengths,
    ),
    _ehu_scene(
        "salinas_a",
        "AVIRIS, Salinas Valley subscene: 83 x 86 px, 204 bands, 6 classes",
        (83, 86, 204),
        (
            "Brocoli_green_weeds_1",
            "Corn_senesced_green_weeds",
            "Lettuce_romaine_4wk",
            "Lettuce_romaine_5wk",
            "Lettuce_romaine_6wk",
            "Lettuce_romaine_7wk",
        ),
        _ehu_file(
            "cube",
            "1/1a/SalinasA_corrected.mat",
            "sha256:d75684ed3ab71a1024cee0f9db9061f50a3523a92ff5edfbbb1eed976b9f1721",
            "salinasA_corrected",
            size_bytes=1_539_086,
        ),
        _ehu_file(
            "labels",
            "a/aa/SalinasA_gt.mat",
            # sha256 of the original EHU file (byte copy from AngryCai/GraphConvSC @ 00d051f8).
            "sha256:17814c1d3296c0e29b27f320f2c4174d2a68adb87e376abe78f02923e2c2e454",
            "salinasA_gt",
            size_bytes=587,
        ),
        quirks=(
            "label values are 1, 10, 11, 12, 13, 14 (Salinas' class ids); Scene remaps them "
            "to 1..6 and keeps the originals in label_values",
            "SalinasA.mat (224 raw bands) is a different file: this entry is the corrected cube",
        ),
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
    _ehu_scene(
        "pavia_university",
        "ROSIS, Pavia University: 610 x 340 px, 103 bands, 9 urban classes",
        (610, 340, 103),
        (
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
        _ehu_file(
            "cube",
            "e/ee/PaviaU.mat",
            "sha256:28447fa87f7a5797845e9a189c0da85e23b1d06a4ba7361e5ff44efbf834d2fb",
            "paviaU",
            size_bytes=34_806_917,
        ),
        _ehu_file(
            "labels",
            "5/50/PaviaU_gt.mat",
            # sha256 of the original EHU file (byte copy from ShukunZhang/LLPD @ d4f2ebf2).
            "sha256:23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
            "paviaU_gt",
            size_bytes=11_005,
        ),
        gt_only=True,
    ),
    _ehu_scene(
        "salinas",
        "AVIRIS, Salinas Valley: 512 x 217 px, 204 bands, 16 classes",
        (512, 217, 204),
        _SALINAS_CLASSES,
        _ehu_file(
            "cube",
            "a/a3/Salinas_corrected.mat",
            "sha256:5ec1c0d22f56d18ecd336f8e35735863c0f160682e04e0c18ef3f89a3334d87d",
            "salinas_corrected",
            size_bytes=26_552_770,
        ),
        _ehu_file(
            "labels",
            "f/fa/Salinas_gt.mat",
            None,  # the local copy is a v7.3 re-save, not the EHU original
            "salinas_gt",
            alternatives=("Salinas_gt_v73.mat",),
            alternative_keys=("gt",),
        ),
        quirks=(
            "Salinas_gt_v73.mat is MATLAB v7.3 (HDF5, key 'gt') stored (217, 512): the reader "
            "transposes it back to 512 x 217",
        ),
        gt_only=True,
    ),
    _ehu_scene(
        "ksc",
        "AVIRIS, Kennedy Space Center: 512 x 614 px, 176 bands, 13 classes",
        (512, 614, 176),
        (
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
        _ehu_file(
            "cube",
            "2/26/KSC.mat",
            "sha256:b1ad011cfdb65c853e4f9f6108ca4774467d87f90a5c23b74ff3a2984a3b4786",
            "KSC",
            host=_EHU_ES,
            size_bytes=56_824_624,
        ),
        _ehu_file(
            "labels",
            "a/a6/KSC_gt.mat",
            None,  # the local copy is a v7.3 re-save, not the EHU original
            "KSC_gt",
            host=_EHU_ES,
            alternatives=("KSC_gt_v73.mat",),
            alternative_keys=("gt",),
        ),
        quirks=(
            "served from ehu.es, not ehu.eus",
            "KSC_gt_v73.mat is MATLAB v7.3 (HDF5, key 'gt') stored (614, 512): the reader "
            "transposes it back to 512 x 614",
        ),
        gt_only=True,
    ),
    _ehu_scene(
        "botswana",
        "Hyperion (EO-1), Okavango Delta: 1476 x 256 px, 145 bands, 14 classes",
        (1476, 256, 145),
        (
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
        _ehu_file(
            "cube",
            "7/72/Botswana.mat",
            "sha256:f1603903c844cdc2980550b0180688e8e1a72d4292595d1120e1dec2a80a91c7",
            "Botswana",
            host=_EHU_ES,
            size_bytes=78_911_133,
        ),
        _ehu_file(
            "labels",
            "5/58/Botswana_gt.mat",
            None,  # no public checksum recorded
            "Botswana_gt",
            host=_EHU_ES,
        ),
        quirks=("served from ehu.es, not ehu.eus",),
        gt_only=True,
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
