"""Finding a dataset's files, and downloading them: data folders, the download cache, shipping
packages, symlink confinement and pooch downloads. Lookup order:

1. the folders named by `EXPLORE_DATA_DIR` (os.pathsep-separated), known sub-paths first
   (e.g. ``hsi/salinas_a/``), then a bounded search (depth <= 4, a few thousand folders);
2. the download cache (`EXPLORE_CACHE_DIR`, default ``pooch.os_cache("explore")``);
   a data folder may also hold the cache's layout ``<folder>/<dataset>/<file>``, which
   `download(name, folder=...)` (``explore download --dir``) fills;
3. files shipped inside an installed package (Indian Pines in `tensorly`, digits in
   scikit-learn);
4. a download with pooch from the canonical URL, checksum verified. Files with no published
   checksum are only downloaded with `allow_unverified=True` (or ``EXPLORE_ALLOW_UNVERIFIED=1``).

(An explicit path given instead of a name is read directly: `explore.data.loading`.)

Downloads go to a temporary name in the cache and are renamed only once verified (pooch does
this), so a failed or mismatching download leaves nothing behind and a user's own files in
`EXPLORE_DATA_DIR` are never written to. Network failures become `DatasetNotFoundError` naming
the URL and the cause; mismatching content becomes `ChecksumError`. `confined=True` (the
dashboard) refuses files that lead, through symlinks, outside the folder they were found in.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from explore.data.catalogue import DataFile, DatasetEntry, Role, get_entry
from explore.errors import ChecksumError, DataError, DatasetNotFoundError, FileFormatError

DATA_DIR_ENV = "EXPLORE_DATA_DIR"
CACHE_DIR_ENV = "EXPLORE_CACHE_DIR"
ALLOW_UNVERIFIED_ENV = "EXPLORE_ALLOW_UNVERIFIED"
TIMEOUT_ENV = "EXPLORE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0

# The bounded search below each data folder: deep enough for <dir>/hsi/<scene>/<file>, small
# enough that pointing EXPLORE_DATA_DIR at a home folder does not walk the whole disk.
_MAX_SEARCH_DEPTH = 4
_MAX_SEARCH_FOLDERS = 5000


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
