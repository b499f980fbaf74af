"""The sidebar controls of a `TrainingSession`: dataset, method (with its summary from the
registry, `explore.methods.METHODS`), K, epochs, device, seed, config; start / stop / resume,
progress and status. Number fields are checked, never silently corrected."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import panel as pn
import param

from explore.dashboard.session import TrainingSession
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.methods import METHODS


def method_summary(method: str) -> str:
    """The registry's sentence on `method`, for the page ("" for a name it does not know)."""
    entry = METHODS.get(method)
    return "" if entry is None else entry.summary


# A K above this many times the number of classes is probably a typo (5000 for 6 classes):
# Start asks to be pressed again before it trains.
K_WARNING_FACTOR = 4
K_WARNING_WITHOUT_CLASSES = 256

NUMBER_FIELDS = (  # (session parameter, label in the page, css class of its input)
    ("n_clusters", "Clusters (K)", "k-input"),
    ("epochs", "Epochs", "epochs-input"),
    ("seed", "Seed", "seed-input"),
)


def n_classes_of(data: Scene | ImageSet) -> int:
    """Number of classes of a dataset's ground truth (0 when it has none)."""
    return int(getattr(data, "n_classes", 0) or 0)


def number_problem(label: str, value: Any, bounds: tuple[Any, Any]) -> str:
    """Why `value` typed in the field `label` cannot be used ("" when it can): empty, not a
    whole number, or outside `bounds` (either end may be None)."""
    low, high = bounds
    if value is None:
        return f"{label} is empty: enter a whole number."
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return f"{label} must be a whole number; got {value!r}."
    if low is not None and value < low:
        if high is None:
            return f"{label} = {value} is too small: it must be at least {low}."
        return f"{label} = {value} is out of range: it must be from {low} to {high}."
    if high is not None and value > high:
        return f"{label} = {value} is out of range: it must be from {low} to {high}."
    return ""


class TrainingControls(pn.viewable.Viewer):
    """Sidebar: dataset, method, K, epochs, device, seed, config; start / stop / resume;
    a progress bar, the status line and any error as a visible alert.

    The number fields are checked, never corrected: a value the session cannot take (K = 0, an
    empty field) stays as typed, the field's problem is listed in `input_alert`, and Start
    refuses to train until it is fixed. A K far above the dataset's number of classes starts
    only when Start is pressed a second time (`warning` says so). The settings are locked while
    a run trains, so the sidebar always shows what trains; a new dataset sets K to its number
    of classes."""

    session = param.ClassSelector(class_=TrainingSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        session = self.session
        self.start_button = pn.widgets.Button(
            label="Start", color="primary", css_classes=["start-button"]
        )
        self.stop_button = pn.widgets.Button(
            label="Stop", color="warning", css_classes=["stop-button"]
        )
        self.resume_button = pn.widgets.Button(
            label="Resume", color="default", css_classes=["resume-button"]
        )
        self.start_button.on_click(lambda event: self.start())
        self.stop_button.on_click(lambda event: session.stop())
        self.resume_button.on_click(lambda event: self.resume())
        self.progress = pn.indicators.Progress(value=0, max=1, bar_color="info")
        self.epoch_counter = pn.pane.Markdown("epoch 0 / 0", css_classes=["epoch-counter"])
        self.status_line = pn.pane.Markdown("idle", css_classes=["run-status"])
        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, css_classes=["run-error"]
        )
        self.input_alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, css_classes=["input-error"]
        )
        self.warning = pn.pane.Alert(
            "", alert_type="warning", visible=False, css_classes=["run-warning"]
        )
        self._confirmed: tuple | None = None  # the settings a warning was shown for
        self.method_summary = pn.pane.Markdown(
            method_summary(session.method),
            css_classes=["method-summary"],
            styles={"color": "#555", "font-size": "0.9em"},
            margin=(0, 10, 5, 10),
        )
        session.param.watch(self._on_method, "method")
        # Plain inputs (no bounds in the browser, which would silently clamp what is typed):
        # each value reaches the session only when the session can take it.
        self.number_inputs = {
            name: pn.widgets.IntInput(
                label=label, value=getattr(session, name), css_classes=[css_class]
            )
            for name, label, css_class in NUMBER_FIELDS
        }
        self._problems: dict[str, str] = {}
        for name, widget in self.number_inputs.items():
            widget.param.watch(functools.partial(self._on_number, name), "value")
        session.param.watch(self._on_session_number, [name for name, _, _ in NUMBER_FIELDS])
        session.param.watch(self._on_dataset, "dataset")
        self.selects = [
            pn.widgets.Select.from_param(session.param[name], name=label, css_classes=[css_class])
            for name, label, css_class in (
                ("dataset", "Dataset", "dataset-select"),
                ("method", "Method", "method-select"),
                ("config", "Config", "config-select"),
                ("device", "Device", "device-select"),
            )
        ]
        session.param.watch(self._refresh, ["epoch", "total_epochs", "status", "message", "error"])
        self._refresh()

    # ------------------------------------------------------------------ inputs
    def _on_number(self, name: str, event: param.parameterized.Event) -> None:
        """A number typed in the page: to the session when valid, else listed as a problem."""
        label = next(label for key, label, _ in NUMBER_FIELDS if key == name)
        problem = number_problem(label, event.new, self.session.param[name].bounds)
        if problem:
            self._problems[name] = problem
        else:
            self._problems.pop(name, None)
            setattr(self.session, name, int(event.new))
        self._show_problems()

    def _on_session_number(self, *events: param.parameterized.Event) -> None:
        for event in events:
            widget = self.number_inputs[event.name]
            if widget.value != event.new:
                widget.value = event.new

    def _show_problems(self) -> None:
        self.input_alert.object = "  \n".join(
            [*self._problems.values(), *(["Nothing was started."] if self._problems else [])]
        )
        self.input_alert.visible = bool(self._problems)
        self._clear_warning()

    def _on_dataset(self, *events: Any) -> None:
        """A new dataset: K becomes its number of classes (when it has labels)."""
        self._clear_warning()
        try:
            n_classes = n_classes_of(self.session.load(self.session.dataset))
        except Exception:  # noqa: BLE001 - Start reports an unloadable dataset
            return
        if n_classes >= 2:
            self.session.n_clusters = n_classes

    def _on_method(self, *events: Any) -> None:
        self.method_summary.object = method_summary(self.session.method)

    def _clear_warning(self) -> None:
        self._confirmed = None
        self.warning.visible = False
        self.start_button.label = "Start"

    def _settings(self) -> tuple:
        session = self.session
        return (session.dataset, session.method, session.n_clusters, session.band_range)

    def _k_warning(self) -> str:
        """Why K looks absurd for the dataset ("" when it does not)."""
        session = self.session
        try:
            data = session.data()
        except Exception:  # noqa: BLE001 - the session's start reports it
            return ""
        n_items = data.n_pixels if isinstance(data, Scene) else data.n_images
        if session.n_clusters > n_items:
            return ""  # not a question: the session refuses it ("larger than the items")
        n_classes = n_classes_of(data)
        limit = K_WARNING_FACTOR * n_classes if n_classes else K_WARNING_WITHOUT_CLASSES
        if session.n_clusters <= limit:
            return ""
        what = f"the {n_classes} classes" if n_classes else "the usual few dozen clusters"
        return (
            f"K = {session.n_clusters} is far above {what} of {data.name}: epochs take much "
            f"longer and most clusters will be tiny. Press 'Start anyway' to train with "
            f"K = {session.n_clusters}, or change K."
        )

    def start(self) -> bool:
        """Start a run when every field is valid (and an absurd K was confirmed by pressing
        Start a second time); returns whether a run started."""
        if self._problems:
            self._show_problems()
            return False
        warning = self._k_warning()
        if warning and self._confirmed != self._settings():
            self.warning.object = warning
            self.warning.visible = True
            self._confirmed = self._settings()
            self.start_button.label = "Start anyway"
            return False
        self._clear_warning()
        return self.session.start()

    def resume(self) -> bool:
        """Resume the last run, unless a field holds an invalid value."""
        if self._problems:
            self._show_problems()
            return False
        return self.session.resume()

    def _refresh(self, *events: Any) -> None:
        session = self.session
        total = max(session.total_epochs, 1)
        self.progress.max = total
        self.progress.value = min(session.epoch, total)
        self.epoch_counter.object = f"epoch {session.epoch} / {session.total_epochs}"
        self.status_line.object = f"**{session.status}**" + (
            f": {session.message}" if session.message else ""
        )
        self.alert.object = session.error
        self.alert.visible = bool(session.error)
        running = session.status in ("running", "stopping")
        self.start_button.disabled = running
        self.resume_button.disabled = running
        self.stop_button.disabled = not running
        for widget in [*self.selects, *self.number_inputs.values()]:
            widget.disabled = running  # the sidebar shows what trains

    def __panel__(self) -> pn.viewable.Viewable:
        dataset, method, config, device = self.selects
        numbers = self.number_inputs
        return pn.Column(
            dataset,
            method,
            self.method_summary,
            numbers["n_clusters"],
            numbers["epochs"],
            config,
            device,
            numbers["seed"],
            pn.Row(self.start_button, self.stop_button, self.resume_button),
            self.input_alert,
            self.warning,
            self.progress,
            self.epoch_counter,
            self.status_line,
            self.alert,
        )
