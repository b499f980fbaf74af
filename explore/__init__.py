"""explore: learn and do deep clustering of hyperspectral and small natural / remote-sensing images.

Sub-packages: `explore.data` (scenes, image sets, readers, registry, patch sampler),
`explore.metrics` (honest clustering scores), `explore.methods` (k-means and deep methods),
`explore.viz` (HoloViews views), `explore.cli` (the `explore` command).
"""

__version__ = "0.1.0"
