"""The augmentation pool editor: edit a scene pool operation by operation (its preview is
`explore.dashboard.augmentation_preview`).

`PoolEditor` holds an `AugmentationPool` (param `pool`) and shows it as cards, one per operation,
with the library's sentence on what the operation does (`describe_operation`), widgets for each
parameter and remove / move up / move down buttons; operations are added
from the spectral-spatial ones and presets are loaded by name. A card's widgets are built by
`pn.Param` from its operation's params (`OperationParam`), so their kinds, steps, labels and
tooltips follow the library's declarations. Every edit goes through the library's validation
(`AugmentationPool.from_dict`): an invalid value shows an alert and the last valid pool is
kept, so nothing raises into the server.

Operations are addressed by a path of 0-based indices: `(2,)` is the third operation of the
root group (a `Sequence` or `RandomChoice`), `(2, 0)` the first operation inside that one and
`()` the root itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import panel as pn
import param

from explore.augment import spectral_spatial
from explore.augment.base import (
    Augmentation,
    build,
    describe_operation,
    from_dict,
    registered_names,
)
from explore.augment.parameters import Interval, IntInterval
from explore.augment.pool import AugmentationPool, RandomChoice, Sequence
from explore.augment.presets import get_preset
from explore.errors import DataError

SCENE_PRESETS: tuple[str, ...] = ("sscc_reference", "weak", "strong")
GROUP_NAMES: tuple[str, ...] = (Sequence.name, RandomChoice.name)
Path = tuple[int, ...]

# A new group needs children to be valid: a RandomChoice starts with one "do nothing" choice.
_NEW_OPERATION_PARAMS: dict[str, dict[str, Any]] = {
    Sequence.name: {"ops": []},
    RandomChoice.name: {"ops": [{"name": "identity", "params": {"p": 1.0}}]},
}


def scene_operation_names() -> tuple[str, ...]:
    """Registered operations meant for hyperspectral patches (those of `spectral_spatial`; the
    image operations of `explore.augment.images` expect 1 or 3 channels in [0, 1]), sorted."""
    names = {getattr(spectral_spatial, cls).name for cls in spectral_spatial.__all__}
    return tuple(name for name in registered_names() if name in names)


def _normalise_path(path: int | Path) -> Path:
    if isinstance(path, int) and not isinstance(path, bool):
        return (path,)
    if isinstance(path, tuple | list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in path
    ):
        return tuple(path)
    raise DataError(f"an operation path must be an index or a tuple of indices; got {path!r}")


def _children(spec: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The child specs of a group spec (Sequence / RandomChoice), else None."""
    if spec.get("name") in GROUP_NAMES:
        return spec.setdefault("params", {}).setdefault("ops", [])
    return None


def _node(root: dict[str, Any], path: Path) -> dict[str, Any]:
    """The spec at `path` under the root group spec; DataError naming the path otherwise."""
    node = root
    for depth, index in enumerate(path):
        children = _children(node)
        if children is None or not 0 <= index < len(children):
            shown = ".".join(str(i + 1) for i in path[: depth + 1])
            raise DataError(f"there is no operation {shown} in the pool")
        node = children[index]
    return node


def _label(path: Path) -> str:
    """1-based dotted label of a path, as shown on the cards ("3.1")."""
    return ".".join(str(i + 1) for i in path) if path else "root"


class IntervalInput(pn.widgets.CompositeWidget):
    """Two spin boxes, low and high, editing an interval parameter (`value`, a pair).

    An `Interval` parameter's widget (pn.Param's default for a range is a slider, which cannot
    show an open or unbounded interval); `integer` picks integer spin boxes (`IntInterval`).
    """

    value = param.Tuple(default=(0.0, 1.0), length=2, doc="(low, high)")
    step = param.Number(default=0.1, doc="spin step of both boxes")
    integer = param.Boolean(default=False, doc="integer spin boxes")
    description = param.String(default=None, allow_None=True, doc="tooltip of both boxes")

    _composite_type = pn.Row

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        kind = pn.widgets.IntInput if self.integer else pn.widgets.FloatInput
        self.low, self.high = (
            kind(
                label=f"{self.label} {end}",
                value=item,
                step=self.step,
                description=self.description,
                width=110,
            )
            for end, item in zip(("low", "high"), self.value, strict=True)
        )
        self._composite[:] = [self.low, self.high]
        self._composite.margin = 0  # the boxes line up with the card's other widgets
        self._pushing = False
        for box in (self.low, self.high):
            box.param.watch(self._from_boxes, "value")
        self.param.watch(self._to_boxes, "value")
        self.param.watch(self._to_css, "css_classes")
        self._to_css()

    def _from_boxes(self, event: param.parameterized.Event) -> None:
        if not self._pushing:
            self.value = (self.low.value, self.high.value)

    def _to_boxes(self, event: param.parameterized.Event) -> None:
        self._pushing = True
        try:
            self.low.value, self.high.value = self.value
        finally:
            self._pushing = False

    def _to_css(self, *events: param.parameterized.Event) -> None:
        for box in (self.low, self.high):
            box.css_classes = list(self.css_classes)


class OperationParam(pn.Param):
    """`pn.Param` for one operation of the editor: panel builds the widgets from the
    operation's parameters, and keeps them showing the operation's values; the widgets do NOT
    write to the operation, the editor applies their values to the pool instead (validated by
    the library, refusals shown in its alert). `built` maps each parameter to its widget."""

    def __init__(self, operation: Augmentation, **params: Any) -> None:
        self.built: dict[str, pn.widgets.Widget] = {}
        names = [name for name in operation.parameter_names() if name != "ops"]
        super().__init__(
            operation,
            parameters=names,
            widgets={name: _widget_spec(operation.param[name]) for name in names},
            sort=lambda item: names.index(item[0]) if item[0] in names else -1,
            show_name=False,
            **params,
        )

    def widget(
        self,
        p_name: str,
        parameterized: param.Parameterized | None = None,
        widget_spec: Any = None,
    ) -> pn.widgets.Widget:
        """pn.Param's widget for `p_name`, without its widget -> operation link."""
        known = len(self._internal_callbacks)
        widget = super().widget(p_name, parameterized, widget_spec)
        for watcher in self._internal_callbacks[known:]:
            if watcher.inst is widget:
                widget.param.unwatch(watcher)
                self._internal_callbacks.remove(watcher)
        self.built[p_name] = widget
        return widget


def _widget_spec(parameter: param.Parameter) -> dict[str, Any]:
    """pn.Param's widget for a parameter, changed only where the editor needs it: spin boxes
    that do not clamp (a value out of bounds reaches the library, which refuses it and says
    why, instead of the browser silently changing it), two of them for an interval, the
    parameter's JSON name as label, and the bounds in the tooltip."""
    name = parameter.name
    doc = (parameter.doc or name).strip()
    expects = parameter.expects() if hasattr(parameter, "expects") else ""
    spec: dict[str, Any] = {
        "label": name,
        "description": f"{doc[0].upper()}{doc[1:]}." + (f" Must be {expects}." if expects else ""),
    }
    if isinstance(parameter, Interval):
        spec.update(type=IntervalInput, integer=isinstance(parameter, IntInterval))
    elif isinstance(parameter, param.Boolean):  # a checkbox: no tooltip
        spec = {"label": name, "align": "end", "width": 110}
    elif isinstance(parameter, param.Integer):
        spec.update(type=pn.widgets.IntInput, start=None, end=None, width=110)
    elif isinstance(parameter, param.Number):
        spec.update(type=pn.widgets.FloatInput, start=None, end=None, width=110)
    else:  # e.g. RandomChoice's weights: a literal list, or None
        spec.update(placeholder="None", width=160)
    return spec


def _operation_note(name: str, path: Path) -> pn.pane.Markdown:
    """What the operation does (`describe_operation`, the library's sentence), as a small
    grey line under its card's title; css class "pool-note-<path>" (e.g. "pool-note-3-1")."""
    where = "-".join(str(index + 1) for index in path) or "root"
    return pn.pane.Markdown(
        describe_operation(name),
        css_classes=["pool-note", f"pool-note-{where}"],
        styles={"color": "#555", "font-size": "0.85em"},
        margin=(0, 10),
        sizing_mode="stretch_width",
    )


class PoolEditor(pn.viewable.Viewer):
    """Edit an augmentation pool for hyperspectral patches: parameters, order, presets.

    The current, always valid pool is the `pool` param (watch it, or read `pool_spec` /
    `to_dict()` for its JSON-able form). Edits are made through `set_parameter`,
    `add_operation`, `remove_operation`, `move_operation` and `load_preset`, which the widgets
    call; each returns True when the pool changed, and False with `error` set (shown in an
    alert) when the library rejected the change.
    """

    preset = param.Selector(
        default="sscc_reference", objects=list(SCENE_PRESETS), doc="preset loaded by Load"
    )
    pool = param.ClassSelector(class_=AugmentationPool, doc="the current (valid) pool")
    error = param.String(default="", doc="why the last edit was rejected ('' if it was not)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._params: dict[Path, OperationParam] = {}
        self._buttons: dict[Path, dict[str, pn.widgets.Button]] = {}
        self._notes: dict[Path, pn.pane.Markdown] = {}
        self._structure: tuple[Any, ...] | None = None
        self._syncing = False
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10))
        self.preset_select = pn.widgets.Select.from_param(self.param.preset, name="Preset")
        self.load_button = pn.widgets.Button(label="Load", color="primary", align="end")
        self.load_button.on_click(lambda event: self.load_preset())
        names = scene_operation_names() + GROUP_NAMES
        self.add_select = pn.widgets.Select(
            label="Operation", options=list(names), value=names[0], width=180
        )
        self.add_into = pn.widgets.Select(label="Into", options={"top level": ()}, width=180)
        self.add_button = pn.widgets.Button(label="Add", color="success", align="end")
        self.add_button.on_click(lambda event: self.add_operation())
        self._operations = pn.Column(sizing_mode="stretch_width")
        self._spec_pane = pn.pane.JSON({}, depth=-1, name="pool spec")
        if self.pool is None:
            self.pool = get_preset(self.preset)  # the watcher draws the cards
        else:
            self._refresh()

    # ------------------------------------------------------------------ reading the pool
    @property
    def pool_spec(self) -> dict[str, Any]:
        """The current pool as a JSON-able dict (`AugmentationPool.from_dict` rebuilds it; a
        method's `augmentation` setting accepts it)."""
        return self.pool.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Same as `pool_spec`."""
        return self.pool_spec

    def _root_spec(self) -> dict[str, Any]:
        """A copy of the root spec as a group (a lone operation is shown as a one-op Sequence)."""
        root = copy.deepcopy(self.pool.root.to_dict())
        if root["name"] not in GROUP_NAMES:
            root = {"name": Sequence.name, "params": {"ops": [root], "p": 1.0}}
        return root

    def operation_paths(self) -> list[Path]:
        """Paths of every operation below the root, depth first (the order of the cards)."""
        paths: list[Path] = []

        def walk(spec: dict[str, Any], path: Path) -> None:
            for index, child in enumerate(_children(spec) or []):
                paths.append((*path, index))
                walk(child, (*path, index))

        walk(self._root_spec(), ())
        return paths

    def operation(self, path: int | Path) -> dict[str, Any]:
        """The spec `{"name", "params"}` of the operation at `path` (a copy)."""
        return copy.deepcopy(_node(self._root_spec(), _normalise_path(path)))

    # ------------------------------------------------------------------ edits
    def _commit(self, root: dict[str, Any], action: str) -> bool:
        """Validate `root` by rebuilding the pool from it; keep the old pool if that fails."""
        name = self.pool.name if self.pool.name.endswith("_edited") else f"{self.pool.name}_edited"
        try:
            pool = AugmentationPool.from_dict({"name": name, "root": root})
        except DataError as error:
            return self._reject(f"{action}: {error}")
        except Exception as error:  # a value of a type the checks did not expect
            return self._reject(f"{action}: {type(error).__name__}: {error}")
        self.error = ""
        self.pool = pool
        return True

    def _reject(self, message: str) -> bool:
        self.error = f"{message}. The pool was not changed."
        return False

    def _edit(self, action: str, change: Callable[[dict[str, Any]], None]) -> bool:
        root = self._root_spec()
        try:
            change(root)
        except (DataError, TypeError, ValueError, KeyError, IndexError) as error:
            return self._reject(f"{action}: {error}")
        return self._commit(root, action)

    def set_parameter(self, path: int | Path, name: str, value: Any) -> bool:
        """Set parameter `name` of the operation at `path` (`()` for the root group) to `value`
        (tuples are stored as lists); the whole pool is validated again."""
        try:
            where = _normalise_path(path)
        except DataError as error:
            return self._reject(str(error))
        action = f"operation {_label(where)}, {name}"

        def change(root: dict[str, Any]) -> None:
            spec = _node(root, where)
            params = spec.setdefault("params", {})
            if name == "ops":
                raise DataError("edit a group's operations with add / remove / move")
            params[name] = list(value) if isinstance(value, tuple) else value

        return self._edit(action, change)

    def add_operation(self, name: str | None = None, into: int | Path | None = None) -> bool:
        """Append operation `name` (default: the Operation select) with its default parameters
        to the group at `into` (default: the Into select; `()` is the top level)."""
        name = self.add_select.value if name is None else name
        try:
            where = _normalise_path(self.add_into.value if into is None else into)
        except DataError as error:
            return self._reject(str(error))
        action = f"add {name}"

        def change(root: dict[str, Any]) -> None:
            group = _node(root, where)
            children = _children(group)
            if children is None:
                raise DataError(f"operation {_label(where)} ({group['name']}) is not a group")
            if name not in scene_operation_names() and name not in GROUP_NAMES:
                raise DataError(f"{name!r} is not an operation for hyperspectral patches")
            children.append(build(name, **_NEW_OPERATION_PARAMS.get(name, {})).to_dict())
            weights = group["params"].get("weights")
            if weights is not None:
                weights.append(1.0)

        return self._edit(action, change)

    def remove_operation(self, path: int | Path) -> bool:
        """Remove the operation at `path` (its weight too, inside a weighted RandomChoice)."""
        try:
            where = _normalise_path(path)
        except DataError as error:
            return self._reject(str(error))
        if not where:
            return self._reject("remove: the root group cannot be removed")

        def change(root: dict[str, Any]) -> None:
            _node(root, where)  # raises if there is no such operation
            parent = _node(root, where[:-1])
            del parent["params"]["ops"][where[-1]]
            weights = parent["params"].get("weights")
            if weights is not None:
                del weights[where[-1]]

        return self._edit(f"remove {_label(where)}", change)

    def move_operation(self, path: int | Path, offset: int) -> bool:
        """Move the operation at `path` by `offset` places within its group (-1: up, 1: down).

        A move past either end of the group does nothing and returns False (no error)."""
        try:
            where = _normalise_path(path)
        except DataError as error:
            return self._reject(str(error))
        if isinstance(offset, bool) or not isinstance(offset, int):
            return self._reject(f"move: offset must be an integer; got {offset!r}")
        if not where:
            return False
        root = self._root_spec()
        try:
            _node(root, where)
        except DataError as error:
            return self._reject(f"move: {error}")
        parent = _node(root, where[:-1])
        ops = parent["params"]["ops"]
        source, target = where[-1], where[-1] + offset
        if offset == 0 or not 0 <= target < len(ops):
            return False
        ops.insert(target, ops.pop(source))
        weights = parent["params"].get("weights")
        if weights is not None:
            weights.insert(target, weights.pop(source))
        return self._commit(root, f"move {_label(where)}")

    def load_preset(self, name: str | None = None) -> bool:
        """Replace the pool by a fresh copy of preset `name` (default: the `preset` param)."""
        name = self.preset if name is None else name
        if name not in SCENE_PRESETS:
            return self._reject(
                f"load preset: {name!r} is not a scene preset; choose one of {SCENE_PRESETS}"
            )
        with param.parameterized.batch_call_watchers(self):
            self.preset = name
            self.error = ""
            self.pool = get_preset(name)
        return True

    # ------------------------------------------------------------------ widgets
    def parameter_widgets(self, path: int | Path, name: str) -> tuple[pn.widgets.Widget, ...]:
        """The widget(s) editing parameter `name` of the operation at `path`: one, or two
        (low, high) for a pair. Setting their `value` edits the pool as the browser would."""
        widget = self._params[_normalise_path(path)].built[name]
        return (widget.low, widget.high) if isinstance(widget, IntervalInput) else (widget,)

    def parameter_pane(self, path: int | Path) -> OperationParam:
        """The `pn.Param` pane that built the widgets of the operation at `path`; its `object`
        is a copy of that operation (kept in step with the pool)."""
        return self._params[_normalise_path(path)]

    def operation_buttons(self, path: int | Path) -> dict[str, pn.widgets.Button]:
        """The "up", "down" and "remove" buttons of the operation at `path`."""
        return self._buttons[_normalise_path(path)]

    def operation_note(self, path: int | Path) -> str:
        """The sentence shown on the card of the operation at `path` (`()`: the root)."""
        return str(self._notes[_normalise_path(path)].object)

    def _describe_structure(self, root: dict[str, Any]) -> tuple[Any, ...]:
        """What decides the cards' layout: paths, operation names and their parameters."""
        entries = []

        def walk(spec: dict[str, Any], path: Path) -> None:
            names = tuple(k for k in spec.get("params", {}) if k != "ops")
            entries.append((path, spec["name"], names))
            for index, child in enumerate(_children(spec) or []):
                walk(child, (*path, index))

        walk(root, ())
        return tuple(entries)

    @param.depends("pool", watch=True)
    def _refresh(self) -> None:
        """Bring the widgets in line with the pool: rebuild the cards when the structure
        changed, else only set the values (keeps the browser's focus on spinners)."""
        root = self._root_spec()
        structure = self._describe_structure(root)
        if structure != self._structure:
            self._rebuild(root)
            self._structure = structure
        else:
            self._sync(root)
        self._spec_pane.object = self.pool_spec

    @param.depends("error", watch=True)
    def _show_error(self) -> None:
        self.alert.object = self.error
        self.alert.visible = bool(self.error)

    def _sync(self, root: dict[str, Any]) -> None:
        """Give each card's operation the pool's values (pn.Param shows them in the widgets),
        and put any widget still showing a refused value back to its operation's value."""
        self._syncing = True
        try:
            for path, pane in self._params.items():
                current = from_dict(_node(root, path))
                names = list(pane.built)
                pane.object.param.update(**{name: getattr(current, name) for name in names})
                for name, widget in pane.built.items():
                    widget.value = getattr(pane.object, name)
        finally:
            self._syncing = False

    def _rebuild(self, root: dict[str, Any]) -> None:
        self._params.clear()
        self._buttons.clear()
        self._notes.clear()
        groups: dict[str, Path] = {"top level": ()}
        cards: list[pn.viewable.Viewable] = [self._card(root, ())]

        def walk(spec: dict[str, Any], path: Path) -> None:
            children = _children(spec) or []
            for index, child in enumerate(children):
                child_path = (*path, index)
                cards.append(self._card(child, child_path, last=index == len(children) - 1))
                if child["name"] in GROUP_NAMES:
                    groups[f"{_label(child_path)}. {child['name']}"] = child_path
                    walk(child, child_path)

        walk(root, ())
        self._operations.objects = cards
        previous = self.add_into.value
        self.add_into.options = groups
        self.add_into.value = previous if previous in groups.values() else ()

    def _card(self, spec: dict[str, Any], path: Path, last: bool = True) -> pn.viewable.Viewable:
        """One operation: title, parameter widgets, and (below the root) its buttons."""
        pane = self._params[path] = OperationParam(from_dict(spec))
        # A CSS class per parameter (e.g. "pool-param-1-p", "pool-param-3-1-sigma") for tests.
        where = "-".join(str(index + 1) for index in path) or "root"
        for name, widget in pane.built.items():
            widget.css_classes = [*widget.css_classes, f"pool-param-{where}-{name}"]
            widget.param.watch(lambda event, name=name: self._on_widget(path, name), "value")
        widgets = list(pane.built.values())
        depth = len(path)
        note = self._notes[path] = _operation_note(spec["name"], path)
        if not path:
            title = pn.pane.Markdown(f"**root: {spec['name']}**", margin=(0, 10))
            return pn.Column(
                pn.Row(title, *widgets, sizing_mode="stretch_width"),
                note,
                sizing_mode="stretch_width",
            )
        buttons = {
            "up": pn.widgets.Button(label="▲", width=40, disabled=path[-1] == 0),
            "down": pn.widgets.Button(label="▼", width=40, disabled=last),
            "remove": pn.widgets.Button(label="✕", width=40, color="danger"),
        }
        buttons["up"].on_click(lambda event: self.move_operation(path, -1))
        buttons["down"].on_click(lambda event: self.move_operation(path, 1))
        buttons["remove"].on_click(lambda event: self.remove_operation(path))
        self._buttons[path] = buttons
        heading = pn.Row(
            pn.pane.Markdown(f"**{_label(path)}. {spec['name']}**", margin=(0, 10)),
            pn.HSpacer(),
            *buttons.values(),
            sizing_mode="stretch_width",
        )
        body = pn.FlexBox(*widgets) if widgets else pn.pane.Markdown("*(no parameters)*")
        return pn.Column(
            heading,
            note,
            body,
            margin=(4, 4, 4, 4 + 30 * (depth - 1)),
            styles={"border-left": f"3px solid {'#5b8def' if depth == 1 else '#9bb8f3'}"},
            sizing_mode="stretch_width",
        )

    def _on_widget(self, path: Path, name: str) -> None:
        """A widget changed: apply its value to the pool (validated by the library); on
        rejection the alert says why and what was typed, and the widget goes back to the
        pool's (last valid) value."""
        if self._syncing:
            return
        value = self._params[path].built[name].value
        value = list(value) if isinstance(value, tuple) else value
        if not self.set_parameter(path, name, value):
            root = self._root_spec()
            kept = _node(root, path).get("params", {}).get(name)
            self.error = (
                f"{self.error} You typed {value!r}; the field shows the last valid value, "
                f"{kept!r}, again."
            )
            self._sync(root)

    # ------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        """Preset loading and the add-operation row."""
        return pn.Column(
            pn.Row(self.preset_select, self.load_button),
            pn.Row(self.add_select, self.add_into, self.add_button),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Augmentation pool"),
            self.alert,
            self.controls(),
            self._operations,
            pn.Card(self._spec_pane, title="pool spec (JSON)", collapsed=True),
            sizing_mode="stretch_width",
        )


__all__ = [
    "SCENE_PRESETS",
    "IntervalInput",
    "OperationParam",
    "PoolEditor",
    "scene_operation_names",
]
