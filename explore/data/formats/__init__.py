"""File formats of hyperspectral scenes, one module each, chosen by content (magic bytes), never
by name.

- `common`: the `_Source` base every format reader derives from, the inventory row `_Entry`,
  path and first-bytes helpers, the zip / `.npy` header size checks, `expand_user`;
- `matlab`: MATLAB v5 (scipy, tags walked first) and v7.3 (HDF5, h5py) `.mat`;
- `numpy_files`: NumPy `.npy` and `.npz`;
- `envi`: ENVI (header + binary data file, `spectral`);
- `geotiff`: GeoTIFF through the optional `rasterio`, read whole or by windows;
- `dispatch`: `sniff_format` and the format -> reader table, `list_arrays`, `read_array`;
- `unmixing`: the unmixing layout (`Y` bands x pixels, `A` abundances), `read_unmixing`;
- `scenes`: `read_scene` (cube, labels, lazy reads).

`explore.data.readers` re-exports the public names; import them from there.
"""
