"""The committed hand-in-lane model, loaded the way the node loads it, on frames rendered
now with products and seeds it was never trained on."""

import json
from pathlib import Path

import numpy as np
import pytest

from edge.camera.model import DEFAULT_MODEL, HandLaneModel
from hw.sim.camera_dataset import lane_samples

LANES = 4


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    return lane_samples(7_000_000, 200, held_out=True)


@pytest.fixture(scope="module")
def model() -> HandLaneModel:
    return HandLaneModel(DEFAULT_MODEL, LANES, threads=1)


def _predict(model: HandLaneModel, crops: np.ndarray) -> np.ndarray:
    return np.concatenate([np.argmax(model.invoke(crops[i : i + LANES]), axis=1) for i in range(0, len(crops), LANES)])


def test_the_model_is_small_and_its_card_tells_its_size() -> None:
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert DEFAULT_MODEL.stat().st_size == card["model_bytes"] <= 150_000


def test_lanes_are_classified_on_unseen_products_and_scenes(
    model: HandLaneModel, held_out: tuple[np.ndarray, np.ndarray]
) -> None:
    crops, labels = held_out
    predicted = _predict(model, crops)
    assert (predicted == labels).mean() >= 0.95
    hand_in, said_in = labels > 0, predicted > 0
    f1 = 2 * (hand_in & said_in).sum() / (hand_in.sum() + said_in.sum())
    assert f1 >= 0.96
    for cls in (0, 1, 2):  # no class is given up for the others
        assert (predicted[labels == cls] == cls).mean() >= 0.8


def test_outputs_are_probabilities_per_lane(model: HandLaneModel, held_out: tuple[np.ndarray, np.ndarray]) -> None:
    scores = model.invoke(held_out[0][:LANES])
    assert scores.shape == (LANES, 3)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=0.02) and (scores >= 0).all()


def test_a_batch_of_the_wrong_size_is_refused(model: HandLaneModel, held_out: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError):
        model.invoke(held_out[0][: LANES - 1])


def test_a_missing_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.tflite"):
        HandLaneModel(tmp_path / "nope.tflite", LANES)
