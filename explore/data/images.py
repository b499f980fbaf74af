"""`ImageSet`: a stack of small 2-D images with class labels, and the readers that build one.

The public face of `explore.data.image_set` (the container used by the image-clustering
methods: natural and remote-sensing scenes, digits), `explore.data.image_readers` (every reader
that produces it: image folders (one sub-folder per class), MNIST-style IDX files, `.npz` arrays,
scikit-learn's digits and CIFAR python batches, the latter through a restricted unpickler) and
`explore.data.image_resize` (the torch and Pillow resize paths). Readers decode and normalise;
`ImageSet` validates, once, whatever they produce.
"""

from __future__ import annotations

from explore.data.image_readers import (
    load_digits_imageset,
    read_cifar_batch,
    read_idx,
    read_image_folder,
    read_npz_images,
    sniff_image_file,
)
from explore.data.image_set import ImageSet

__all__ = [
    "ImageSet",
    "load_digits_imageset",
    "read_cifar_batch",
    "read_idx",
    "read_image_folder",
    "read_npz_images",
    "sniff_image_file",
]
