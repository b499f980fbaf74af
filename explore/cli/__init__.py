"""The `explore` command line: datasets, download, info, train, predict, transfer (same code
paths as the library).

Every error a user can cause (missing or corrupt file, unknown dataset, bad option) ends as one
line on stderr naming the problem and exit status 2, without a traceback. Nothing already in an
output folder is overwritten unless `--overwrite` is given. Before loading data, every command
checks that its output folder can be created and written; before the work, that its filesystem
has room for the estimated outputs (`OutputError` otherwise). Results are written atomically and
durably (`explore.outputs.write_atomic`).

`explore train` of a deep method runs across processes when started by `torchrun` (`torchrun
--nproc_per_node N -m explore train ...`): every process trains on its share of each batch and
only rank 0 prints and writes; `explore predict` under torchrun splits a scene's tiles between
the processes, which write into the one map. Scene files larger than `EXPLORE_LAZY_BYTES`
(1 GiB) are read lazily by `train` and `predict` (memory-mapped or by windows); `predict` always
writes its map tile by tile.
"""

from explore.cli.common import EXIT_USAGE, UsageError, prepare_output_dir
from explore.cli.parser import build_parser, main, run

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "main", "prepare_output_dir", "run"]
