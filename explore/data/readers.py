"""Readers: files to arrays and `Scene`s, the format chosen by content (magic bytes), never by name.

The public face of `explore.data.formats`, which holds one module per format (MATLAB v5 and v7.3
(HDF5) `.mat`, NumPy `.npy` and `.npz`, ENVI (header + binary data file) and GeoTIFF (with the
optional `rasterio`)), the unmixing layout (Samson / Jasper Ridge style: `Y` bands x pixels in
MATLAB column-major order, `A` abundances) and the dispatch by content. Here: format sniffing
(`sniff_format`), the inventory of arrays in a file (`list_arrays`, for `explore info`), loading
one array (`read_array`), a scene's cube and labels (`read_scene`, `read_unmixing`).

Large cubes are read lazily (`read_scene(lazy=...)`; by default above `EXPLORE_LAZY_BYTES`,
1 GiB): `.npy` and ENVI as read-only memory maps, GeoTIFF by windows (`WindowedCube`), so a
scene larger than memory can be predicted tile by tile (`explore.data.lazy`).

Every failure of the underlying libraries (scipy, h5py, numpy, spectral, rasterio) on a corrupt or
truncated file becomes a `FileFormatError` naming the file, with the library's error kept as
`__cause__`; a missing file is a `FileNotFoundError`. Sniffing reads only the first few KiB, `.npy`
files are read with `allow_pickle=False`, object arrays are refused, and declared sizes that do not
fit the file are refused before any data is read (a TIFF's width x height x bands against its
bytes times what its compression can expand to; see `explore.data.formats.geotiff._TiffSource`
for the GeoTIFF rules: band count, sample types, nodata, georeferencing).
"""

from __future__ import annotations

from explore.data.formats.common import PathLike, check_zip_sizes, expand_user
from explore.data.formats.dispatch import FORMATS, list_arrays, read_array, sniff_format
from explore.data.formats.geotiff import MAX_TIFF_BANDS
from explore.data.formats.scenes import LAZY_FORMATS, read_scene
from explore.data.formats.unmixing import read_unmixing

__all__ = [
    "FORMATS",
    "LAZY_FORMATS",
    "MAX_TIFF_BANDS",
    "PathLike",
    "check_zip_sizes",
    "expand_user",
    "list_arrays",
    "read_array",
    "read_scene",
    "read_unmixing",
    "sniff_format",
]
