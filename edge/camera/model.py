"""The hand-in-lane model: a full-int8 LiteRT (TFLite) classifier of lane crops into
empty / hand / hand holding an item.

The interpreter is created once, sized for every lane of the camera at once so that a
frame costs one invoke, and runs on XNNPACK with a configurable thread count. It comes
from `ai-edge-litert`, or from `tflite_runtime` on 32-bit Pi OS, where LiteRT has no wheel.
"""

from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = Path(__file__).with_name("models") / "hand_lane.tflite"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as missing:
            raise RuntimeError(
                "no LiteRT interpreter: install ai-edge-litert (or tflite-runtime on 32-bit Pi OS)"
            ) from missing
    return Interpreter


class HandLaneModel:
    def __init__(self, path: Path, lanes: int, threads: int = 2) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no model at {path}")
        self.path = path
        self._interpreter = _interpreter_class()(model_path=str(path), num_threads=threads)
        entry = self._interpreter.get_input_details()[0]
        self.input_size = int(entry["shape"][1])
        if entry["dtype"] != np.uint8 or tuple(entry["quantization"]) != (1.0, 0):
            raise ValueError(f"{path} does not take raw uint8 pixels (input {entry['dtype']}, {entry['quantization']})")
        self._interpreter.resize_tensor_input(entry["index"], [lanes, self.input_size, self.input_size, 3])
        self._interpreter.allocate_tensors()
        self._input = entry["index"]
        exit_ = self._interpreter.get_output_details()[0]
        self._output = exit_["index"]
        self._scale, self._zero = exit_["quantization"]
        if exit_["dtype"] not in (np.uint8, np.int8) or not self._scale:
            raise ValueError(
                f"{path} does not give quantised scores (output {exit_['dtype']}, {exit_['quantization']})"
            )
        if tuple(exit_["shape"]) != (lanes, 3):
            raise ValueError(f"{path} gives {tuple(exit_['shape'])} scores for {lanes} lanes, not ({lanes}, 3)")

    def invoke(self, crops: np.ndarray) -> np.ndarray:
        """Lanes x 3 probabilities (empty, hand, item) for a batch of lane crops."""
        self._interpreter.set_tensor(self._input, crops)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output)
        return (raw.astype(np.float32) - self._zero) * self._scale
