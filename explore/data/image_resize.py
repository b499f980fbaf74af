"""Resizing images, two paths that compute the same thing (bilinear with antialiasing, values
clipped to [0, 1]): `_resize_array` resizes a whole (N, C, H, W) stack with torch, in chunks
(what `ImageSet.resize` uses); `_resize_one` resizes one image with Pillow, single-threaded
(what the folder reader uses for the odd image of another size). `_check_size` checks a
requested (height, width).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from explore.errors import DataError

# Images are resized in chunks of this many so that a resize never holds two full copies in
# float64 or builds one enormous intermediate tensor.
_RESIZE_CHUNK = 1024


def _resize_array(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, height, width) float32, bilinear with antialiasing."""
    output = np.empty((images.shape[0], images.shape[1], height, width), dtype=np.float32)
    for start in range(0, images.shape[0], _RESIZE_CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + _RESIZE_CHUNK]))
        resized = F.interpolate(
            chunk, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
        output[start : start + _RESIZE_CHUNK] = resized.clamp_(0.0, 1.0).numpy()
    return output


def _resize_one(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """(C, H, W) float32 -> (C, height, width) with Pillow's antialiased bilinear filter on
    float ("F") channels. It computes what `_resize_array` does (the torch kernel was ported
    from Pillow's) but runs single-threaded, which is much faster for one image at a time on a
    busy machine than a multi-threaded torch call."""
    from PIL import Image

    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(channel)).resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for channel in pixels
    ]
    return np.clip(np.stack(channels), 0.0, 1.0)


def _check_size(height: int, width: int) -> tuple[int, int]:
    try:
        size = (int(height), int(width))
    except (TypeError, ValueError) as error:
        raise DataError(f"image size must be two integers; got {height!r}, {width!r}") from error
    if size[0] < 1 or size[1] < 1:
        raise DataError(f"image size must be at least 1 x 1; got {size[0]} x {size[1]}")
    return size
