"""Callbacks around the training loop: hooks in order, the checkpoint written after the callbacks
saw the epoch (with their state), state kept across a resume, plain functions still accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.sscc import SSCC
from explore.training.callbacks import Callback, FunctionCallback, TrainingBudget, as_callbacks
from explore.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.datasets("salinas_a")
TINY = {"batch_size": 64, "device": "cpu", "progress": False, "samples_per_epoch": 256}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


class Recorder(Callback):
    """Logs every hook, checks the checkpoint on disk is still the previous epoch's when it sees
    an epoch, counts epochs across a resume through its state."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.epochs_seen = 0

    def on_fit_start(self, trainer) -> None:
        self.calls.append(("fit_start", trainer.epoch))

    def on_epoch_start(self, trainer, epoch: int, n_batches: int) -> None:
        self.calls.append(("epoch_start", (epoch, n_batches)))

    def on_batch_end(self, trainer, batch_number: int) -> None:
        self.calls.append(("batch", batch_number))

    def on_epoch_end(self, trainer, record) -> None:
        path = trainer.checkpoint_path
        saved = load_checkpoint(path)["epoch"] if path.is_file() else 0
        assert saved == record.epoch - 1  # this epoch's is written after the callbacks
        self.epochs_seen += 1
        self.calls.append(("epoch_end", record.epoch))

    def on_fit_end(self, trainer) -> None:
        self.calls.append(("fit_end", trainer.epoch))

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_seen": self.epochs_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs_seen = int(state["epochs_seen"])


def test_hooks_run_in_order_and_state_survives_a_resume(small_scene: Scene, tmp_path: Path):
    path = tmp_path / "checkpoint.pt"
    recorder, records = Recorder(), []
    model = SSCC(n_clusters=3, epochs=2, **TINY)
    model.fit(small_scene, checkpoint_path=path, callbacks=[recorder, records.append])
    assert [record.epoch for record in records] == [1, 2]  # a plain function, wrapped
    names = [name for name, _ in recorder.calls]
    assert names == ["fit_start", "epoch_start", *["batch"] * 4, "epoch_end"] * 1 + [
        "epoch_start",
        *["batch"] * 4,
        "epoch_end",
        "fit_end",
    ]
    assert recorder.calls[1] == ("epoch_start", (1, 4))
    assert load_checkpoint(path)["callbacks"] == {"Recorder": {"epochs_seen": 2}}

    resumed = Recorder()
    again = SSCC(n_clusters=3, epochs=3, **TINY)
    again.fit(small_scene, checkpoint_path=path, resume=True, callbacks=[resumed])
    assert resumed.epochs_seen == 3  # 2 from the checkpoint, then epoch 3
    assert resumed.calls[0] == ("fit_start", 2)


def test_functions_are_wrapped_and_anything_else_is_refused() -> None:
    def show(record) -> None:
        pass

    wrapped = as_callbacks([show])
    assert isinstance(wrapped[0], FunctionCallback) and wrapped[0].function is show
    with pytest.raises(TypeError, match="a callback must be a Callback or a function"):
        as_callbacks([42])


class Clock:
    """A clock the test moves: each epoch end adds `per_epoch` seconds (a callback placed
    before the budget)."""

    def __init__(self, per_epoch: float) -> None:
        self.now = 0.0
        self.per_epoch = per_epoch

    def __call__(self) -> float:
        return self.now


class Tick(Callback):
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_epoch_end(self, trainer, record) -> None:
        self.clock.now += self.clock.per_epoch


def test_a_budget_fits_the_epochs_and_the_schedule(small_scene: Scene, tmp_path: Path) -> None:
    clock = Clock(per_epoch=3.0)
    model = SSCC(n_clusters=3, epochs=8, step_size=4, **TINY)
    path = tmp_path / "checkpoint.pt"
    stop_at_two = FunctionCallback(lambda record: record.epoch == 2 and trainer.request_stop())
    budget = TrainingBudget(10, clock=clock)
    trainer = model.make_trainer(
        small_scene, callbacks=[Tick(clock), budget, stop_at_two], checkpoint_path=path
    )
    trainer.fit()
    # 3 s per epoch in 10 s: 3 of the 8 planned epochs, the decay every 4 epochs now every 2.
    assert trainer.epochs == 3 and trainer.scheduler.step_size == 2
    assert trainer.history.metadata["budget"]["epochs"] == 3
    assert trainer.epoch == 2  # stopped by the test after epoch 2
    assert load_checkpoint(path)["callbacks"]["TrainingBudget"] == {
        "planned_epochs": 3,
        "spent": 6.0,
    }
    # A resume keeps the plan and the time spent: one more epoch, not eight.
    clock_again = Clock(per_epoch=3.0)
    resumed_budget = TrainingBudget(10, clock=clock_again)
    again = SSCC(n_clusters=3, epochs=8, step_size=4, **TINY)
    trainer = again.make_trainer(
        small_scene, callbacks=[Tick(clock_again), resumed_budget], checkpoint_path=path
    )
    trainer.load_checkpoint(path)
    trainer.fit()
    assert trainer.epoch == 3 and trainer.epochs == 3 and resumed_budget.spent == 9.0


def test_a_slower_machine_stops_at_the_first_epoch_end_past_the_budget(
    small_scene: Scene,
) -> None:
    clock = Clock(per_epoch=2.0)
    budget = TrainingBudget(9, clock=clock)

    class SlowDown(Callback):
        def on_epoch_end(self, trainer, record) -> None:
            if record.epoch == 2:
                clock.per_epoch = 6.0  # epoch 3 takes 6 s: past the budget at its end

    model = SSCC(n_clusters=3, epochs=10, **TINY)
    trainer = model.make_trainer(small_scene, callbacks=[Tick(clock), SlowDown(), budget])
    trainer.fit()
    assert budget.planned_epochs == 4 and trainer.epoch == 3  # 2 + 2 + 6 = 10 s > 9 s


class Pace(Callback):
    """Sets the clock's seconds per epoch from the epoch that just ended on (a callback placed
    before the `Tick`): `paces[epoch]` for the epochs listed."""

    def __init__(self, clock: Clock, paces: dict[int, float]) -> None:
        self.clock, self.paces = clock, paces

    def on_epoch_end(self, trainer, record) -> None:
        self.clock.per_epoch = self.paces.get(record.epoch, self.clock.per_epoch)


def test_a_slow_first_epoch_does_not_cost_the_run_its_epochs(
    small_scene: Scene, tmp_path: Path
) -> None:
    # The first epoch takes 8 s (warm-up, a job starting beside it), the others 2 s; 24 s.
    clock = Clock(per_epoch=8.0)
    budget = TrainingBudget(24, clock=clock)
    model = SSCC(n_clusters=3, epochs=12, step_size=12, **TINY)
    path = tmp_path / "checkpoint.pt"
    trainer = model.make_trainer(
        small_scene,
        callbacks=[Pace(clock, {1: 8.0, 2: 2.0}), Tick(clock), budget],
        checkpoint_path=path,
    )
    trainer.fit()
    # Planned 3 epochs after the first (8 s each), then at the second epoch's end (10 s):
    # 14 s left at 2 s an epoch is 7 more, 9 in all, the schedule's period scaled to 9.
    assert budget.planned_epochs == 9 and trainer.epoch == 9 and trainer.epochs == 9
    assert trainer.scheduler.step_size == 9
    assert trainer.history.metadata["budget"]["epochs"] == 9
    assert budget.elapsed() == 8.0 + 8 * 2.0 <= 24
    assert load_checkpoint(path)["callbacks"]["TrainingBudget"]["planned_epochs"] == 9


def test_the_plan_stays_once_the_schedule_has_decayed(small_scene: Scene) -> None:
    clock = Clock(per_epoch=8.0)
    budget = TrainingBudget(24, clock=clock)
    model = SSCC(n_clusters=3, epochs=12, step_size=4, **TINY)
    trainer = model.make_trainer(
        small_scene, callbacks=[Pace(clock, {1: 8.0, 2: 2.0}), Tick(clock), budget]
    )
    trainer.fit()
    # 3 epochs planned, the decay every 4 epochs now every 1: it decayed at the first epoch's
    # end, so lengthening the run now would decay it again; the plan stays at 3 epochs.
    assert budget.planned_epochs == 3 and trainer.epoch == 3 and trainer.scheduler.step_size == 1


def test_the_budget_option_reaches_the_trainer(small_scene: Scene) -> None:
    model = SSCC(n_clusters=3, epochs=2, budget=3600, **TINY).fit(small_scene)
    assert model.history_.metadata["budget"]["epochs"] == 2  # an hour is plenty
    with pytest.raises(DataError, match="budget must be a positive number of seconds"):
        SSCC(n_clusters=3, budget=0, **TINY).fit(small_scene)
    with pytest.raises(DataError, match="budget must be a number of seconds; got 'soon'"):
        TrainingBudget("soon")


@pytest.mark.parametrize("assign", ["head", "kmeans"])
def test_live_maps_come_between_records_and_leave_training_unchanged(
    small_scene: Scene, assign: str
) -> None:
    """`LiveAssignments` publishes whole maps while an epoch runs (not after its last batch,
    whose record follows; with feature clusters not before the first epoch has its centres),
    and a run with it gives the same losses and labels as one without."""
    from explore.training.live import LiveAssignments, LiveMap

    settings = {**TINY, "epochs": 2, "assign": assign, "seed": 3}
    plain = SSCC(n_clusters=4, **settings).fit(small_scene)
    maps: list[LiveMap] = []
    # a clock that never moves: every batch end is due, whatever the machine's load (with the
    # real clock, a slow map under load postponed the next one past a batch)
    live = LiveAssignments(maps.append, interval=0.0, clock=lambda: 0.0)
    watched = SSCC(n_clusters=4, **settings).fit(small_scene, callbacks=[live])
    assert [r.losses for r in watched.history_.records] == [
        r.losses for r in plain.history_.records
    ]
    assert (watched.labels_ == plain.labels_).all()
    n_batches = 256 // 64
    first_epoch = [] if assign == "kmeans" else [(1, b) for b in range(1, n_batches)]
    assert [(m.epoch, m.batch) for m in maps] == [
        *first_epoch,
        *[(2, b) for b in range(1, n_batches)],
    ]
    assert all(m.assignments.shape == small_scene.shape[:2] for m in maps)
    assert all(m.n_batches == n_batches and m.assignments.max() < 4 for m in maps)
    assert live.published == len(maps)


def test_live_maps_wait_their_interval_and_refuse_bad_settings(small_scene: Scene) -> None:
    from explore.training.live import LiveAssignments

    now = [0.0]
    maps: list = []
    live = LiveAssignments(maps.append, interval=1000.0, clock=lambda: now[0])
    SSCC(n_clusters=4, **TINY, epochs=1, assign="head").fit(small_scene, callbacks=[live])
    assert maps == []  # the clock never reached the interval
    # every map costs one tick of this clock: at most a quarter of the time, the next map waits
    # four ticks (three batches here); with max_share 1 each batch end gets one
    for share, batches in ((0.25, [1]), (1.0, [1, 2, 3])):
        ticks = iter(range(10_000))
        shared: list = []
        paced = LiveAssignments(
            shared.append,
            interval=0.0,
            max_share=share,
            clock=lambda ticks=ticks: float(next(ticks)),
        )
        SSCC(n_clusters=4, **TINY, epochs=1, assign="head").fit(small_scene, callbacks=[paced])
        assert [m.batch for m in shared] == batches, share
    too_big = LiveAssignments(maps.append, interval=0.0, max_items=10)
    SSCC(n_clusters=4, **TINY, epochs=1, assign="head").fit(small_scene, callbacks=[too_big])
    assert maps == []  # 576 pixels > 10: no map between epochs
    with pytest.raises(DataError, match="max_share"):
        LiveAssignments(maps.append, max_share=0)
    with pytest.raises(DataError, match="interval"):
        LiveAssignments(maps.append, interval=-1)


def test_image_sets_get_the_default_budget_only_without_epochs() -> None:
    """The fast config fits an image-set run to `DEFAULT_IMAGE_BUDGET` unless the caller asks
    for epochs (then they are trained) or gives a budget of their own; scenes get none."""
    import numpy as np

    from explore.data.images import ImageSet
    from explore.methods.cc import CC, DEFAULT_IMAGE_BUDGET
    from explore.methods.sacc import SACC

    def budget(method, kind: str = "images"):
        method.input_kind_ = kind
        return method.settings()["budget"]

    assert budget(SACC(n_clusters=10)) == DEFAULT_IMAGE_BUDGET
    assert budget(SACC(n_clusters=10, epochs=5)) is None
    assert budget(SACC(n_clusters=10, epochs=5, budget=60)) == 60
    assert budget(SACC(n_clusters=10), "scene") is None
    assert budget(SACC(n_clusters=10, config="paper")) is None

    rng = np.random.default_rng(0)
    images = ImageSet(rng.random((48, 1, 8, 8)).astype(np.float32), name="tiny")
    model = CC(n_clusters=2, batch_size=16, backbone="light", progress=False).fit(images)
    recorded = model.history_.metadata["budget"]
    assert recorded["seconds"] == DEFAULT_IMAGE_BUDGET and recorded["epochs"] == 30
    assert len(model.history_) == 30  # a small set trains every epoch within the budget


def test_s3ocnet_trains_small_image_sets_longer_within_the_same_budget() -> None:
    """S3OCNet's fast config plans 60 epochs on image sets (its heads settle more slowly than
    CC's), still fitted to the image budget; scenes, the paper config and epochs asked for keep
    theirs."""
    from explore.methods.cc import CC, DEFAULT_IMAGE_BUDGET
    from explore.methods.s3ocnet import SMALL_SET_EPOCHS, S3OCNet

    def settings(method, kind: str = "images") -> tuple[int, float | None]:
        method.input_kind_ = kind
        resolved = method.settings()
        return resolved["epochs"], resolved["budget"]

    assert SMALL_SET_EPOCHS == 60
    assert settings(S3OCNet(n_clusters=10)) == (60, DEFAULT_IMAGE_BUDGET)
    assert settings(CC(n_clusters=10)) == (30, DEFAULT_IMAGE_BUDGET)
    assert settings(S3OCNet(n_clusters=10), "scene") == (30, None)
    assert settings(S3OCNet(n_clusters=10, epochs=5)) == (5, None)
    assert settings(S3OCNet(n_clusters=10, config="paper"))[0] == 1000
