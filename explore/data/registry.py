"""Registry of benchmark datasets by name: where their files live and how to load them.

The public face of three modules: `explore.data.catalogue` (the list of known datasets,
`REGISTRY`, one entry each: files, canonical URLs, checksums, MATLAB keys, alternative local
names, quirks), `explore.data.locate` (finding the files in data folders, the cache or a
shipping package, symlink confinement, checksum-verified pooch downloads) and
`explore.data.loading` (a found dataset read by the loader its entry names, or any file or
folder given by path, into a `Scene` or an `ImageSet`).

Lookup order: an explicit path (file or folder) given instead of a name is read as it is; a name
is looked up in the folders named by `EXPLORE_DATA_DIR`, then in the download cache
(`EXPLORE_CACHE_DIR`), then among the files of an installed package (the offline default scene
is `DEFAULT_SCENE`, shipped by `tensorly`), and is last downloaded with pooch, checksum verified
(`explore.data.locate` says each step in full). A failed or mismatching download leaves nothing
behind, and a user's own files in `EXPLORE_DATA_DIR` are never written to.
"""

from __future__ import annotations

from explore.data.catalogue import (
    DEFAULT_SCENE,
    REGISTRY,
    DataFile,
    DatasetEntry,
    get_entry,
    list_datasets,
)
from explore.data.catalogue import Kind as Kind
from explore.data.catalogue import Reader as Reader
from explore.data.catalogue import Role as Role
from explore.data.loading import load_dataset, load_images, load_scene
from explore.data.locate import ALLOW_UNVERIFIED_ENV as ALLOW_UNVERIFIED_ENV
from explore.data.locate import CACHE_DIR_ENV as CACHE_DIR_ENV
from explore.data.locate import DATA_DIR_ENV as DATA_DIR_ENV
from explore.data.locate import DEFAULT_TIMEOUT_SECONDS as DEFAULT_TIMEOUT_SECONDS
from explore.data.locate import TIMEOUT_ENV as TIMEOUT_ENV
from explore.data.locate import DownloadResult as DownloadResult
from explore.data.locate import Origin as Origin
from explore.data.locate import (
    availability,
    cache_dir,
    data_dirs,
    download,
    is_available,
    locate,
)

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
