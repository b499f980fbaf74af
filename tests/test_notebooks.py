"""The tutorial notebooks in notebooks/: committed clean, small-mode aware, and drawing their key
figures as HoloViews / Bokeh output (not only running).

Running the notebooks is nbval's job (`pytest --nbval-lax notebooks/`, part of the plain
`pytest` run). The figure tests read the outputs nbval got in the same session
(notebooks/conftest.py keeps them and orders these tests after the notebook cells), so no
notebook runs twice; run without the notebooks (`pytest tests/test_notebooks.py`), they execute
each notebook once with nbclient, in small mode.

Key figures are the code cells tagged `figure-...` in a notebook: each must display a HoloViews
object rendered by Bokeh (the `application/vnd.holoviews_exec.v0+json` bundle HoloViews and
Panel emit, with the Bokeh document in its HTML), and `KEY_FIGURES` says which Bokeh glyphs that
document must hold. No cell may write to stderr (warnings, Panel/param log lines).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from shared_data import NOTEBOOK_DATASETS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

HOLOVIEWS_EXEC = "application/vnd.holoviews_exec.v0+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SMALL_MODE_LINE = "small mode"  # what every setup cell prints when EXPLORE_NOTEBOOK_SMALL=1

# notebook -> tag -> Bokeh models the rendered figure must hold, read from the Bokeh document
# embedded in its HTML output: Image (a label or band map), ImageRGBA (a composite, a mosaic,
# datashaded points), Line (curves), VBar (bars), Rect (a heat map), Scatter (points), Segment,
# Text (labels), DataTable (a table); "ipywidget" asks for an ipywidget displayed with it.
KEY_FIGURES: dict[str, dict[str, tuple[str, ...]]] = {
    "01_quickstart.ipynb": {
        "figure-scene": ("ImageRGBA", "Image"),
        "figure-spectra": ("Line",),
        "figure-kmeans-map": ("Image",),
        "figure-sscc-map": ("Image",),
        "figure-scores": ("DataTable",),
        "figure-curves": ("Line", "VBar"),
    },
    "02_augmentation_pools.ipynb": {
        "figure-patch": ("ImageRGBA", "Image", "Scatter"),
        "figure-operations": ("ImageRGBA", "Line", "Text"),
        "figure-my-pool": ("ImageRGBA", "Line"),
        "figure-presets": ("ImageRGBA", "Line"),
        "figure-pool-comparison": ("Image",),
    },
    "03_sscc.ipynb": {
        "figure-cross-correlation": ("Rect", "Text"),
        "figure-curves": ("Line", "VBar"),
        "figure-replay": ("Image", "ipywidget"),
        "figure-live-training": ("Image", "Line", "VBar"),
        "figure-live-final": ("Image",),
        "figure-unseen": ("Image",),
    },
    "04_cc_and_sacc.ipynb": {
        "figure-views": ("ImageRGBA",),
        "figure-scores": ("DataTable",),
        "figure-curves": ("Line",),
        "figure-cluster-grids": ("ImageRGBA",),
        "figure-embedding": ("ImageRGBA", "Scatter"),
    },
    "05_self_organizing_heads.ipynb": {
        "figure-soch-centres": ("Scatter", "Segment"),
        "figure-soch-steps": ("Scatter", "Segment", "Line"),
        "figure-curves": ("Line", "VBar"),
        "figure-cluster-grids": ("ImageRGBA",),
    },
    "06_transfer_umap_dpgmm.ipynb": {
        "figure-target": ("ImageRGBA",),
        "figure-embedding": ("ImageRGBA", "Scatter"),
        "figure-mixture-weights": ("VBar",),
        "figure-scores": ("DataTable",),
        "figure-clusters": ("ImageRGBA",),
    },
    "07_honest_evaluation.ipynb": {
        "figure-matching": ("Rect", "Text"),
        "figure-trivial-scores": ("DataTable",),
        "figure-labelled": ("Image",),
        "figure-seeds": ("DataTable",),
        "figure-epoch-curves": ("Line", "Scatter"),
        "figure-inflation": ("VBar",),
    },
}


@dataclass(frozen=True)
class ExecutedNotebook:
    """A notebook after a small-mode run: its code cells and each one's outputs."""

    path: Path
    cells: list[tuple[Any, list[Any]]]


_EXECUTED: dict[Path, ExecutedNotebook] = {}


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _execute(path: Path) -> list[list[Any]]:
    """Run the notebook with nbclient in small mode; each code cell's outputs."""
    from nbclient import NotebookClient

    notebook = _read(path)
    with pytest.MonkeyPatch.context() as patch:  # the kernel inherits the environment
        patch.setenv("EXPLORE_NOTEBOOK_SMALL", "1")
        # One torch / BLAS thread, as notebooks/conftest.py gives nbval's kernels.
        patch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        NotebookClient(
            notebook,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    return [list(cell.outputs) for cell in _code_cells(notebook)]


@pytest.fixture
def executed_notebook(request: pytest.FixtureRequest) -> ExecutedNotebook:
    """The notebook `request.param` after a small-mode run: nbval's run in this session when
    there was one, else one nbclient run (kept for the session)."""
    path: Path = request.param
    if path not in _EXECUTED:
        cells = _code_cells(_read(path))
        plugin = request.config.pluginmanager.get_plugin("explore-notebook-outputs")
        outputs = None if plugin is None else plugin.outputs_of(path, len(cells))
        if outputs is None:
            outputs = _execute(path)
        _EXECUTED[path] = ExecutedNotebook(path, list(zip(cells, outputs, strict=True)))
    return _EXECUTED[path]


def _bokeh_models(outputs: list[Any]) -> set[str]:
    """Names of the Bokeh models in the documents embedded in the outputs' HTML."""
    names: set[str] = set()
    for output in outputs:
        html = str(output.get("data", {}).get("text/html", ""))
        names.update(re.findall(r'"type":"object","name":"(\w+)"', html))
    return names


def _has(outputs: list[Any], mime: str) -> bool:
    return any(mime in output.get("data", {}) for output in outputs)


# ---------------------------------------------------------------------------------- static


def test_the_tutorials_are_there() -> None:
    names = [path.name for path in NOTEBOOK_PATHS]
    assert set(KEY_FIGURES) <= set(names), f"missing notebooks: {set(KEY_FIGURES) - set(names)}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_notebook_is_committed_clean_and_follows_the_conventions(path: Path) -> None:
    notebook = _read(path)
    nbformat.validate(notebook)
    cells = _code_cells(notebook)
    for index, cell in enumerate(cells):
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{path.name}: code cell {index} has outputs: clear them before committing "
            "(jupyter nbconvert --clear-output --inplace)"
        )
        assert not re.search(r"(^|\s)[%!]?\s*(pip|conda) install", cell.source), (
            f"{path.name}: code cell {index} installs packages; dependencies belong in "
            "pyproject.toml"
        )
    setup = cells[0].source
    assert "EXPLORE_NOTEBOOK_SMALL" in setup, f"{path.name}: the first code cell must read it"
    assert 'hv.extension("bokeh")' in setup and "pn.extension()" in setup
    last = notebook.cells[-1]
    assert last.cell_type == "markdown" and "## Exercise" in last.source, (
        f"{path.name} must end with a short exercise"
    )
    tags = {tag for cell in cells for tag in cell.metadata.get("tags", [])}
    assert any(tag.startswith("figure-") for tag in tags), f"{path.name}: tag its key figures"
    expected = set(KEY_FIGURES.get(path.name, {}))
    assert expected <= tags, f"{path.name}: key figure cells not tagged: {expected - tags}"


# ---------------------------------------------------------------------------------- executed


@pytest.mark.parametrize(
    "executed_notebook",
    [
        pytest.param(path, marks=pytest.mark.datasets(*NOTEBOOK_DATASETS.get(path.name, ())))
        for path in NOTEBOOK_PATHS
    ],
    ids=lambda path: path.stem,
    indirect=True,
)
def test_notebook_draws_its_key_figures_in_small_mode(
    executed_notebook: ExecutedNotebook,
) -> None:
    path = executed_notebook.path
    _, setup_outputs = executed_notebook.cells[0]
    assert SMALL_MODE_LINE in "".join(
        output.get("text", "") for output in setup_outputs if output.output_type == "stream"
    ), f"{path.name}: the kernel did not see EXPLORE_NOTEBOOK_SMALL=1"

    expected = KEY_FIGURES.get(path.name, {})
    figures = 0
    for index, (cell, outputs) in enumerate(executed_notebook.cells):
        errors = [output for output in outputs if output.output_type == "error"]
        assert not errors, f"{path.name}: code cell {index} failed: {errors[0].get('evalue')}"
        stderr = "".join(
            output.get("text", "")
            for output in outputs
            if output.output_type == "stream" and output.get("name") == "stderr"
        )
        assert not stderr, f"{path.name}: code cell {index} wrote to stderr:\n{stderr[:2000]}"
        for tag in cell.metadata.get("tags", []):
            if not tag.startswith("figure-"):
                continue
            figures += 1
            assert _has(outputs, HOLOVIEWS_EXEC), (
                f"{path.name} [{tag}]: no HoloViews / Bokeh output ({HOLOVIEWS_EXEC})"
            )
            models = _bokeh_models(outputs)
            for name in expected.get(tag, ()):
                if name == "ipywidget":
                    assert _has(outputs, WIDGET_VIEW), f"{path.name} [{tag}]: no ipywidget shown"
                else:
                    assert name in models, f"{path.name} [{tag}]: no Bokeh {name} in {models}"
    assert figures >= max(len(expected), 1)
