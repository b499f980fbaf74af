"""`UploadControl`: the sidebar's "Your own data" upload, a scene or an image set for one session.

A scene (`.mat`, `.npy`, an ENVI header + data pair, or a zip holding them, GeoTIFF) or an
image set (`.npz` with `images`, a zip of class folders) is read with the library's own readers
(`explore.data.readers`, `explore.data.images`: format by content, hostile-file checks, never
unpickled). Files are written only into one temporary folder per session (`tempfile.mkdtemp`),
each upload in a fresh sub-folder (nothing is overwritten), and that folder is removed when
the session ends (`remove`, called by `explore.dashboard.app`; folders of sessions still open
when the server process exits are removed then). A zip is checked for sizes its
bytes cannot hold (`check_zip_sizes`) and for members outside its folder (absolute paths,
`..`, links) before anything is extracted.

The data joins the session's dataset choices as "upload: <file name>" for that session only
(`TrainingSession.add_upload`); a name typed in the browser is looked up in that session's
uploads, never read as a path. A file refused by a reader, or one over the size limit
(`EXPLORE_UPLOAD_MAX_MB`, default 512 MB), is named in a visible alert; the dataset selected
before stays selected.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import panel as pn
import param

from explore.dashboard.session import TrainingSession
from explore.data.images import ImageSet, read_image_folder, read_npz_images
from explore.data.readers import check_zip_sizes, list_arrays, read_scene, sniff_format
from explore.data.scene import Scene
from explore.errors import DataError, FileFormatError

MAX_MB_ENV = "EXPLORE_UPLOAD_MAX_MB"
DEFAULT_MAX_MB = 512
UNPACK_FACTOR = 4  # a zip or .npz may unpack to this many times the upload limit
MAX_ZIP_MEMBERS = 100_000  # files in one zip (a zip of many empty files is a bomb too)
ACCEPT = ".mat,.npy,.npz,.zip,.hdr,.img,.dat,.raw,.bil,.bip,.bsq,.tif,.tiff"
_SAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._ +()-]")


_LIVE_FOLDERS: set[Path] = set()  # upload folders of sessions not yet ended


@atexit.register
def _remove_live_folders() -> None:
    """A server stopped with sessions still open leaves no upload behind either."""
    for folder in list(_LIVE_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)
    _LIVE_FOLDERS.clear()


def max_upload_bytes() -> int:
    """The largest upload (all its files together) in bytes: `EXPLORE_UPLOAD_MAX_MB` megabytes
    (default 512); an unreadable or non-positive setting falls back to the default."""
    text = os.environ.get(MAX_MB_ENV, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    if not megabytes > 0:
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 1024 * 1024)


def websocket_message_bytes(max_bytes: int | None = None) -> int:
    """The websocket message size an upload of `max_bytes` needs: the browser sends the file
    base64-encoded (4/3 of its size) inside one message, plus the message's own fields."""
    max_bytes = max_upload_bytes() if max_bytes is None else max_bytes
    return max_bytes * 4 // 3 + 1024 * 1024


def _megabytes(n_bytes: int) -> str:
    """'512 MB', '0.3 MB': a size as the limit's setting counts it (MiB, named MB)."""
    megabytes = n_bytes / 1024 / 1024
    return f"{megabytes:.0f} MB" if megabytes >= 10 else f"{megabytes:.1f} MB"


def safe_file_name(filename: str) -> str:
    """The last part of a browser-given file name, with only plain characters: the name never
    leads out of the upload folder."""
    base = PurePosixPath(str(filename).replace("\\", "/")).name
    base = _SAFE_CHARACTERS.sub("_", base).strip(" .")
    return base[:120] or "upload"


def check_zip(path: Path, max_unpacked: int) -> None:
    """Refuse a zip (or `.npz`) whose declared sizes its bytes cannot hold (`check_zip_sizes`),
    that holds more than `MAX_ZIP_MEMBERS` files or whose members add up to more than
    `max_unpacked` bytes: nothing is unpacked or loaded from it before."""
    check_zip_sizes(path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise FileFormatError(
            f"{path.name} holds {len(infos)} files, more than {MAX_ZIP_MEMBERS}: refused"
        )
    total = sum(info.file_size for info in infos)
    if total > max_unpacked:
        raise FileFormatError(
            f"{path.name} unpacks to {_megabytes(total)}, more than the {_megabytes(max_unpacked)} "
            f"allowed ({UNPACK_FACTOR} times the upload limit, {MAX_MB_ENV})"
        )


def extract_zip(path: Path, into: Path, max_unpacked: int) -> None:
    """Extract the zip `path` into the folder `into`, after `check_zip` and after refusing
    members outside `into` (absolute paths, `..`, drive letters, links)."""
    check_zip(path, max_unpacked)
    root = into.resolve()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if (
                name.startswith(("/", "\\"))
                or ".." in parts
                or (parts and ":" in parts[0])
                or stat.S_ISLNK(info.external_attr >> 16)
            ):
                raise FileFormatError(
                    f"{path.name} holds {name[:100]!r}, a path outside its own folder: refused"
                )
            target = (root / PurePosixPath(*parts)).resolve() if parts else root
            if not target.is_relative_to(root):
                raise FileFormatError(
                    f"{path.name} holds {name[:100]!r}, a path outside its own folder: refused"
                )
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("xb") as sink:
                shutil.copyfileobj(source, sink)


def _is_npz(path: Path) -> bool:
    """Whether a zip is a NumPy archive (every member an `.npy`) rather than a zip of files."""
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
    return bool(names) and all(name.endswith(".npy") and "/" not in name for name in names)


def _visible(paths: Any) -> list[Path]:
    """Paths without hidden files and macOS archive folders."""
    return [p for p in paths if not any(part.startswith((".", "__MACOSX")) for part in p.parts)]


def _read_folder(folder: Path, name: str) -> Scene | ImageSet:
    """What an extracted zip holds: an ENVI pair (one `.hdr`) or class folders of images."""
    files = _visible(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    headers = [p for p in files if p.suffix.lower() == ".hdr"]
    if len(headers) > 1:
        raise FileFormatError(f"{name} holds {len(headers)} ENVI headers: upload one scene")
    if headers:
        header = folder / headers[0]
        data = [
            folder / p
            for p in files
            if p.parent == headers[0].parent
            and p.suffix.lower() != ".hdr"
            and header.name.lower() in (p.with_suffix(".hdr").name.lower(), p.name.lower() + ".hdr")
        ]
        if len(data) != 1:
            raise FileFormatError(f"{name} holds the ENVI header {header.name} but no data file")
        return read_scene(data[0], lazy=False, name=Path(name).stem)
    root = folder
    entries = _visible(p.relative_to(root) for p in root.iterdir())
    while len(entries) == 1 and (root / entries[0]).is_dir():  # one enclosing folder
        root = root / entries[0]
        entries = _visible(p.relative_to(root) for p in root.iterdir())
    if not any((root / p).is_dir() for p in entries):
        raise FileFormatError(
            f"{name} holds neither an ENVI scene (.hdr + data) nor class folders of images"
        )
    return read_image_folder(root, name=Path(name).stem)


def read_upload(
    files: Sequence[tuple[str, bytes]], folder: Path, max_bytes: int | None = None
) -> tuple[str, Scene | ImageSet]:
    """Write the uploaded `(file name, bytes)` pairs into a new sub-folder of `folder` and read
    them: one file (any scene format, an `.npz` image set, a zip of an ENVI pair or of class
    folders) or an ENVI header with its data file. Returns (a label naming the files, the data);
    raises DataError (a one-line reason) for anything it cannot read."""
    max_bytes = max_upload_bytes() if max_bytes is None else max_bytes
    if not files:
        raise DataError("no file was uploaded")
    total = sum(len(data) for _, data in files)
    if total > max_bytes:
        raise DataError(
            f"the upload is {_megabytes(total)}, over the limit of {_megabytes(max_bytes)} "
            f"(set {MAX_MB_ENV} to change it)"
        )
    target = Path(tempfile.mkdtemp(prefix="upload-", dir=folder))
    paths: list[Path] = []
    for filename, data in files:
        path = target / safe_file_name(filename)
        if path in paths:
            raise DataError(f"two uploaded files are both named {path.name}")
        path.write_bytes(data)
        paths.append(path)
    label = " + ".join(p.name for p in paths)
    if len(paths) > 1:
        headers = [p for p in paths if p.suffix.lower() == ".hdr"]
        if len(paths) != 2 or len(headers) != 1:
            raise DataError("upload one file, or an ENVI pair: its .hdr header and its data file")
        data_file = next(p for p in paths if p not in headers)
        header = data_file.with_suffix(".hdr")
        if header != headers[0] and not header.exists():
            headers[0].rename(header)  # the reader finds the header beside its data file
        return label, read_scene(data_file, lazy=False, name=data_file.stem)
    path = paths[0]
    if sniff_format(path) == "npz":
        check_zip(path, UNPACK_FACTOR * max_bytes)
        if _is_npz(path):
            if "images" in list_arrays(path):
                return label, read_npz_images(path, name=path.stem)
            return label, read_scene(path, lazy=False, name=path.stem)
        extracted = target / "unpacked"
        extracted.mkdir()
        extract_zip(path, extracted, UNPACK_FACTOR * max_bytes)
        return label, _read_folder(extracted, path.name)
    return label, read_scene(path, lazy=False, name=path.stem)


def _one_line(error: BaseException, folder: Path | None) -> str:
    """The reader's message on one line, the session's folder left out of the paths it names."""
    text = str(error) if str(error) else type(error).__name__
    if folder is not None:
        text = re.sub(re.escape(str(folder)) + r"/upload-[^/]+/(unpacked/)?", "", text)
    return " ".join(text.split())[:400]


class UploadControl(pn.viewable.Viewer):
    """The sidebar's upload: a file input, a status line and an alert for refused files."""

    session = param.ClassSelector(class_=TrainingSession)
    message = param.String(default="", doc="what the last upload did (one line)")
    error = param.String(default="", doc="why the last upload was refused ('' when it was not)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.folder: Path | None = None  # made at the first upload, removed at the session end
        self.max_bytes = max_upload_bytes()
        self.file_input = pn.widgets.FileInput(
            accept=ACCEPT, multiple=True, css_classes=["upload-input"], sizing_mode="stretch_width"
        )
        self.file_input.param.watch(self._on_files, "value")
        self.help = pn.pane.Markdown(
            f"A scene (.mat, .npy, ENVI .hdr + data or a zip of them, GeoTIFF) or an image set "
            f"(.npz, a zip of class folders), up to {_megabytes(self.max_bytes)}. Kept for this "
            "session only.",
            css_classes=["upload-help"],
            styles={"color": "#555", "font-size": "0.9em"},
            margin=(0, 10, 5, 10),
        )
        self.status = pn.pane.Markdown("", css_classes=["upload-status"], margin=(0, 10))
        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, css_classes=["upload-error"]
        )

    def _on_files(self, event: param.parameterized.Event) -> None:
        values, names = self.file_input.value, self.file_input.filename
        if values is None:
            return
        if not isinstance(values, list):
            values, names = [values], [names]
        self.upload(list(zip(names or [], values, strict=False)))

    def upload(self, files: Sequence[tuple[str, bytes]]) -> bool:
        """Read the uploaded files and select them in the session; a refused upload sets
        `error` (shown in the alert) and leaves the session's dataset as it was."""
        data: Scene | ImageSet | None = None
        try:
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="explore-upload-"))
                _LIVE_FOLDERS.add(self.folder)
            label, data = read_upload(files, self.folder, self.max_bytes)
        except Exception as error:  # noqa: BLE001 - a refused file is shown, never raised
            self.error = _one_line(error, self.folder)
            self.message = ""
        else:
            self.error = ""
            self.message = f"Loaded {label}: {data!r}"
        self.alert.object = f"Upload refused: {self.error}" if self.error else ""
        self.alert.visible = bool(self.error)
        self.status.object = self.message
        if data is not None:  # selected last: the page then shows the new data
            self.session.dataset = self.session.add_upload(label, data)
        return data is not None

    def remove(self) -> None:
        """Delete the session's upload folder and everything in it (the session ended)."""
        folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            _LIVE_FOLDERS.discard(folder)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.file_input, self.help, self.status, self.alert)
