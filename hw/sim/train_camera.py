"""Train the hand-in-lane model on rendered frames and export it as a full-int8 .tflite
(`make train-camera`; needs the `train` extra: TensorFlow for Keras and its converter).

    python -m hw.sim.train_camera --frames 20000 --out edge/camera/models/hand_lane.tflite

The data: random frames from hw/sim/camera_dataset.py (seeds 0..frames-1 for training, the
next 10 % for validation), every lane cropped to 32x32 RGB. The model: four small
convolutions and a global average, about 15 k parameters. Post-training quantisation to
int8 throughout (uint8 in, so the node feeds camera pixels as they are; uint8 out),
calibrated on 500 training crops. Prints the float and the int8 model's accuracy on the
validation frames, and writes the model card's figures as JSON beside the model.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from edge.camera.model import HandLaneModel
from hw.sim.camera_dataset import CLASSES, INPUT_SIZE, lane_samples
from hw.sim.camera_render import ShelfView


def build_model():  # type: ignore[no-untyped-def]  # TensorFlow is not typed
    import tensorflow as tf

    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input((INPUT_SIZE, INPUT_SIZE, 3)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(12, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(24, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(48, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(len(CLASSES), activation="softmax"),
        ]
    )


def int8_accuracy(path: Path, crops: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the exported model as the node runs it, one frame's lanes per invoke."""
    lanes = len(ShelfView().lanes)
    model = HandLaneModel(path, lanes)
    correct = 0
    for start in range(0, len(labels), lanes):
        scores = model.invoke(crops[start : start + lanes])
        correct += int((np.argmax(scores, axis=1) == labels[start : start + lanes]).sum())
    return correct / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("edge/camera/models/hand_lane.tflite"))
    args = parser.parse_args()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    started = time.monotonic()
    train_x, train_y = lane_samples(0, args.frames)
    check_x, check_y = lane_samples(args.frames, args.frames // 10)
    print(f"rendered {len(train_y)} training and {len(check_y)} validation crops "
          f"in {time.monotonic() - started:.0f} s; classes {np.bincount(train_y).tolist()}", flush=True)  # fmt: skip
    model = build_model()
    model.compile(
        optimizer=tf.keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    counts = np.bincount(train_y, minlength=len(CLASSES))
    weights = {c: float(len(train_y) / (len(CLASSES) * max(1, n))) for c, n in enumerate(counts)}
    model.fit(
        train_x.astype(np.float32),
        train_y,
        epochs=args.epochs,
        batch_size=128,
        class_weight=weights,
        validation_data=(check_x.astype(np.float32), check_y),
        callbacks=[tf.keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.5)],
        verbose=2,
    )
    float_accuracy = float(model.evaluate(check_x.astype(np.float32), check_y, verbose=0)[1])

    def representative():  # type: ignore[no-untyped-def]
        for crop in train_x[np.random.default_rng(0).choice(len(train_x), 500, replace=False)]:
            yield [crop[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    tflite = converter.convert()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(tflite)
    quantized = int8_accuracy(args.out, check_x, check_y)
    card = {
        "model_bytes": len(tflite),
        "parameters": int(model.count_params()),
        "training_frames": args.frames,
        "training_crops": int(len(train_y)),
        "validation_crops": int(len(check_y)),
        "float_accuracy": round(float_accuracy, 4),
        "int8_accuracy": round(quantized, 4),
        "tensorflow": tf.__version__,
    }
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card), file=sys.stderr)
    print(f"wrote {args.out} ({len(tflite)} bytes) in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
