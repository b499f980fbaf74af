"""`MovingEmbeddingView`: the embedding of the current run's fixed sample of items at the epoch the
Training tab's player shows, so the player replays the feature space as it moves.

The frames come with the session's records (`TrainingSession.frames`, projected by
`explore.training.projection.EmbeddingFrames` after every epoch on one fitted projection), so
every frame is drawn on the same axes: the plot's ranges cover all frames of the run, and a point
that moves between epochs moved in feature space. Points are coloured with the run's one colour
per cluster (`TrainingView.palette`, the map's colours). A box drawn on the plot (box-select
tool) selects its items (`map_selection`: flat pixel indices of a scene, item indices of an image
set), which the dashboard outlines on the map; the selection follows the same items through the
epochs. It always shows the run the map shows, so its highlights belong to that run.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.session import TrainingSession
from explore.dashboard.training_view import TrainingView
from explore.errors import DataError
from explore.viz.embedding import highlight_layer, points_of_items, selected_points

PLOT_WIDTH = 560
PLOT_HEIGHT = 440
NO_FRAMES = "The moving embedding appears after the first epoch of a deep-clustering run."
NO_COLOUR = "#888888"  # points of an epoch without a map (a sample-evaluated large source)


def frame_limits(frames: list[np.ndarray | None]) -> tuple[tuple[float, float], ...]:
    """(x range, y range) covering every frame, padded by 5 %: one set of axes for the run."""
    drawn = [frame for frame in frames if frame is not None and len(frame)]
    if not drawn:
        return ((-1.0, 1.0), (-1.0, 1.0))
    stacked = np.concatenate(drawn).astype(np.float64)
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    pad = np.maximum((high - low) * 0.05, 1e-6)
    low, high = low - pad, high + pad
    return ((float(low[0]), float(high[0])), (float(low[1]), float(high[1])))


class MovingEmbeddingView(pn.viewable.Viewer):
    """The shown epoch's frame of the fixed sample, coloured by cluster, with box selection."""

    training_view = param.ClassSelector(class_=TrainingView)
    selection = param.List(default=[], doc="indices into the sample of the box selection")
    map_selection = param.List(
        default=[], doc="flat pixel indices of the selection (item indices for image sets)"
    )
    highlighted = param.List(default=[], doc="indices into the sample drawn highlighted")
    status = param.String(default="", doc="what is selected (one line)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.bounds_stream = hv.streams.BoundsXY(bounds=None)
        self.bounds_stream.add_subscriber(self._on_bounds)
        self.note = pn.pane.Markdown(NO_FRAMES, css_classes=["moving-note"], width=330)
        self.status_pane = pn.pane.Markdown(
            self.param.status, css_classes=["moving-status"], width=330
        )
        # The player sits above the maps, out of sight once the page is scrolled down to here:
        # two buttons step it from beside the plot.
        self.previous_button = pn.widgets.Button(
            label="◀ previous epoch", css_classes=["moving-previous"], width=150
        )
        self.next_button = pn.widgets.Button(
            label="next epoch ▶", css_classes=["moving-next"], width=150
        )
        self.previous_button.on_click(lambda event: self.step(-1))
        self.next_button.on_click(lambda event: self.step(+1))
        self.session.param.watch(self._on_sample, ["frame_sample", "frame_note"])
        self.session.param.watch(self._on_records, "records")

    @property
    def session(self) -> TrainingSession:
        return self.training_view.session

    # ------------------------------------------------------------------ data
    def frame(self) -> np.ndarray | None:
        """The (n, 2) frame of the epoch the player shows (None before one, or for an anchor)."""
        frames = self.session.frames
        shown = self.training_view.shown
        if not frames or shown < 1:
            return None
        return frames[min(shown, len(frames)) - 1]

    def colours(self) -> list[str]:
        """Each sampled item's colour: its cluster's colour on the shown epoch's map."""
        sample = self.session.frame_sample
        record = self.training_view.record()
        if sample is None:
            return []
        if record is None or record.assignments is None:
            return [NO_COLOUR] * len(sample)
        palette = self.training_view.palette() or []
        clusters = np.ravel(record.assignments)[np.asarray(sample, dtype=np.int64)]
        return [palette[int(k)] if int(k) < len(palette) else NO_COLOUR for k in clusters]

    def step(self, change: int) -> None:
        """Move the epoch player (and so the maps and this frame) by `change` epochs."""
        player = self.training_view.player
        if player.disabled:
            return
        player.value = int(min(max(player.value + change, player.start), player.end))

    def _on_sample(self, *events: Any) -> None:
        self.note.object = self.session.frame_note or NO_FRAMES

    def _on_records(self, event: param.parameterized.Event) -> None:
        if not event.new:  # a new run: the last run's selection no longer applies
            self.param.update(selection=[], map_selection=[], highlighted=[], status="")

    # ------------------------------------------------------------------ selection
    def _items(self) -> np.ndarray:
        sample = self.session.frame_sample
        return np.empty(0, dtype=np.int64) if sample is None else np.asarray(sample, np.int64)

    def _on_bounds(self, bounds: tuple[float, float, float, float] | None = None) -> None:
        frame = self.frame()
        if frame is None:
            return
        try:
            chosen = selected_points(frame, bounds)
        except DataError as error:
            self.status = str(error)
            return
        self.param.update(
            selection=chosen.tolist(),
            map_selection=self._items()[chosen].tolist(),
            highlighted=chosen.tolist(),
            status=f"{chosen.size} items selected: outlined on the map, followed through epochs.",
        )

    def highlight_pixels(self, flat_indices: np.ndarray | list[int] | None) -> np.ndarray:
        """Highlight the sampled items among these pixels (item indices for image sets);
        returns their indices into the sample. Leaves `selection` alone."""
        items = None if self.session.frame_sample is None else self._items
        chosen = points_of_items(items, flat_indices)
        self.highlighted = chosen.tolist()
        return chosen

    # ------------------------------------------------------------------ view
    @param.depends("training_view.shown", "highlighted", "training_view.session.dataset")
    def plot(self) -> hv.Overlay:
        """The shown epoch's frame, on the axes of the whole run, highlighted items on top."""
        frame = self.frame()
        x_range, y_range = frame_limits(self.session.frames)
        record = self.training_view.record()
        if frame is None:
            points = np.empty((0, 2))
            colours: list[str] = []
            title = "moving embedding: no frame yet"
        else:
            points = np.asarray(frame, dtype=np.float64)
            colours = self.colours()
            title = f"epoch {record.epoch if record else '?'}: embedding of {len(points)} items"
        element = hv.Points(
            (points[:, 0], points[:, 1], colours), kdims=["PC 1", "PC 2"], vdims=["colour"]
        ).opts(
            color="colour",
            size=4,
            line_alpha=0,
            tools=["box_select"],
            active_tools=["box_select"],
            nonselection_alpha=1.0,
            xlim=x_range,
            ylim=y_range,
            framewise=True,
        )
        self.bounds_stream.source = element
        highlight = highlight_layer(points, self.highlighted if len(points) else None).redim(
            x="PC 1", y="PC 2"
        )
        return (element * highlight).opts(
            title=title, width=PLOT_WIDTH, height=PLOT_HEIGHT, show_legend=False
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(
            pn.Column(
                pn.panel(self.plot, sizing_mode="fixed"),
                css_classes=["moving-embedding"],
                sizing_mode="fixed",
                width=PLOT_WIDTH + 20,
            ),
            pn.Column(
                pn.pane.Markdown(
                    "**Moving embedding** (played by the epoch player above). Draw a box on "
                    "it to outline those pixels on the map."
                ),
                pn.Row(self.previous_button, self.next_button),
                self.note,
                self.status_pane,
                width=350,
            ),
        )
