"""Every method is a scikit-learn estimator: `get_params`, `set_params` and `clone` work, and
constructor arguments are kept as given (resolved only when training, into `settings_`)."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from explore.data.registry import load_scene
from explore.errors import DataError
from explore.methods import DEEP_METHODS, get_method_class
from explore.methods.kmeans import KMeansClustering
from explore.methods.spectral import SpectralClustering
from explore.methods.transfer import TransferClustering


@pytest.mark.parametrize("name", sorted(DEEP_METHODS))
def test_deep_methods_clone_and_set_params(name: str) -> None:
    method_class = get_method_class(name)
    model = method_class(n_clusters=4, epochs=3, seed=2, lr=5e-4)
    params = model.get_params()
    assert params["n_clusters"] == 4 and params["epochs"] == 3 and params["seed"] == 2
    assert params["batch_size"] is None  # left to the config until training
    copy = clone(model)
    assert type(copy) is method_class and copy is not model
    assert copy.get_params() == params
    assert copy.set_params(epochs=7, config="paper") is copy
    assert copy.settings()["epochs"] == 7 and copy.settings()["lr"] == 5e-4
    assert model.settings()["epochs"] == 3  # the original is untouched
    with pytest.raises(ValueError, match="Invalid parameter"):
        copy.set_params(no_such_option=1)


def test_subclasses_inherit_their_parents_parameters() -> None:
    sacc = get_method_class("sacc")(n_clusters=3, sigma=2.0, patch_size=9)
    params = clone(sacc).get_params()
    assert params["sigma"] == 2.0 and params["patch_size"] == 9  # CC's argument, via **kwargs


@pytest.mark.parametrize(
    "model",
    [KMeansClustering(n_clusters=5), SpectralClustering(n_clusters=5), TransferClustering(seed=3)],
)
def test_other_methods_clone(model) -> None:
    assert clone(model).get_params() == model.get_params()


@pytest.mark.datasets("salinas_a")
def test_a_clone_of_a_trained_method_is_untrained_and_settings_are_recorded() -> None:
    scene = load_scene("salinas_a", download=False).crop(slice(20, 36), slice(30, 46))
    model = get_method_class("sscc")(n_clusters=3, epochs=1, batch_size=64, device="cpu")
    model.set_params(progress=False).fit(scene)
    assert model.settings_["epochs"] == 1 and model.settings_["neighbour_radius"] == 2
    copy = clone(model)
    assert not hasattr(copy, "labels_") and not hasattr(copy, "settings_")
    with pytest.raises(DataError, match="n_clusters must be an integer >= 2"):
        copy.set_params(n_clusters=1).fit(scene)
