"""Camera node: the hand-in-lane model and the whole pipeline on held-out rendered
sequences (product textures and seeds never used in training).

    .venv/bin/python bench/camera.py --quick    # under 60 s
    .venv/bin/python bench/camera.py            # longer

- lane_f1: every lane of random held-out frames (hw/sim/camera_dataset.py), "hand in the
  lane" (an empty hand or one holding an item) against no hand, through the int8 model as
  the node runs it. The three-class accuracy is printed beside it.
- Interactions: held-out scenes (hw/sim/camera_scene.py) of shoppers walking up, reaching,
  taking, putting back, sweeping across lanes, leaning in and walking past with carts,
  rendered at 15 fps and run through the node's pipeline (edge/camera/pipeline.py) with
  presence on every third frame (5 Hz). Each true reach is paired with a found one that
  shares a lane and overlaps it in time (hw/sim/camera_scene.score). recall = paired / true,
  precision = paired / found. t_err pools |t0 - true t0| and |t1 - true t1| of the pairs.
- presence_err: on the presence frames, for each person standing within the well-seen
  floor (x 100..1,100 mm, y 200..600 mm, nobody else within 700 mm), the distance to the
  nearest detection (a miss counts as infinite).
- pipeline_vs_invoke_ratio: on the same pre-rendered frames, the node's arrangement (the lane
  path on this thread, presence in its own process for every third frame, as
  edge/camera/app.py runs them, waiting for presence rather than dropping frames) against
  the bare interpreter invoking the same frames' crops, which were cut beforehand. Both use
  the same thread count. The two are timed back to back, nine times, and the figure is
  the median of the nine ratios.
  invoke_ms is the bare interpreter's time per frame (all lanes in one invoke).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scoring import percentile  # noqa: E402
from edge.camera.interaction import Reach  # noqa: E402
from edge.camera.model import DEFAULT_MODEL, HandLaneModel  # noqa: E402
from edge.camera.pipeline import CameraPipeline  # noqa: E402
from edge.camera.presence_process import PresenceProcess  # noqa: E402
from edge.camera.sources import Frame  # noqa: E402
from edge.runtime.config import CameraConfig  # noqa: E402
from hw.sim.camera_dataset import lane_samples  # noqa: E402
from hw.sim.camera_render import Renderer, ShelfView  # noqa: E402
from hw.sim.camera_scene import CameraScene, score, well_seen  # noqa: E402

FPS = 15
PRESENCE_EVERY = 3  # frames: 5 Hz at 15 fps
HELD_OUT_SEED = 50_000_000  # far from training's seeds (0 .. 20,000) and the tests'


def lane_f1(frames: int, threads: int) -> dict[str, float]:
    crops, labels = lane_samples(HELD_OUT_SEED, frames, held_out=True)
    lanes = len(ShelfView().lanes)
    model = HandLaneModel(DEFAULT_MODEL, lanes, threads)
    predicted = np.concatenate(
        [np.argmax(model.invoke(crops[i : i + lanes]), axis=1) for i in range(0, len(crops), lanes)]
    )
    hand_in, said_in = labels > 0, predicted > 0
    return {
        "crops": len(labels),
        "lane_f1": float(2 * (hand_in & said_in).sum() / (hand_in.sum() + said_in.sum())),
        "lane_accuracy": float((predicted == labels).mean()),
    }


def scenes(count: int, seconds: int, threads: int) -> dict[str, float]:
    view = ShelfView()
    renderer = Renderer(view)
    camera = CameraConfig(shelf="shelf-01", threads=threads)
    model = HandLaneModel(DEFAULT_MODEL, len(camera.lanes), threads)
    paired = true_count = found_count = holding_right = 0
    t_errors: list[float] = []
    place_errors: list[float] = []
    presence_errors: list[float] = []
    for index in range(count):
        end = seconds * 1000
        scene = CameraScene(view, HELD_OUT_SEED + index, end + 20_000, held_out=True, visits_per_min=8)
        pipeline = CameraPipeline(camera, model)
        found: list[Reach] = []
        for n in range(end * FPS // 1000):
            t = n * 1000 // FPS
            image = renderer.render(scene.spec(t))
            if n % PRESENCE_EVERY == 0:
                detected = pipeline.people(t, image)
                everyone = scene.people(t)
                for person in everyone if n >= 5 * PRESENCE_EVERY else []:  # after the background is learnt
                    if well_seen(person, everyone):
                        near = [math.dist(person, (x, y)) for x, y, _ in detected]
                        presence_errors.append(min(near) if near else math.inf)
            found += pipeline.lanes(t, image)
        found += pipeline.flush(end)
        cutoff = end - 500  # reaches still going at the end are scored on neither side
        truth = [r for r in scene.truth() if r.t1 < cutoff]
        found = [r for r in found if r.t1 < cutoff]
        result = score(truth, found)
        paired += len(result.matched)
        true_count += len(truth)
        found_count += len(found)
        for true, got in result.matched:
            t_errors += [abs(got.t0 - true.t0), abs(got.t1 - true.t1)]
            holding_right += got.holding == true.holding
            if got.located:
                place_errors.append(math.dist((got.x_mm, got.y_mm), (true.x_mm, true.y_mm)))
        print(
            f"  scene {index}: {len(truth)} reaches, {len(result.matched)} found, {len(result.missed)} missed, "
            f"{len(result.false)} false",
            flush=True,
        )
    return {
        "reaches": true_count,
        "interaction_recall": paired / true_count,
        "interaction_precision": paired / found_count if found_count else 0.0,
        "t_err_p95_ms": percentile(t_errors, 0.95),
        "holding_accuracy": holding_right / paired if paired else 0.0,
        "reacher_err_p95_mm": percentile(place_errors, 0.95),
        "presence_err_p95_mm": percentile(presence_errors, 0.95),
        "presence_scored": len(presence_errors),
    }


def throughput(frames: int, threads: int, rounds: int = 9) -> dict[str, float]:
    view = ShelfView()
    renderer = Renderer(view)
    scene = CameraScene(view, HELD_OUT_SEED + 999, frames * 1000 // FPS + 20_000, held_out=True, visits_per_min=8)
    images = [renderer.render(scene.spec(n * 1000 // FPS)) for n in range(frames)]
    camera = CameraConfig(shelf="shelf-01", threads=threads)
    model = HandLaneModel(DEFAULT_MODEL, len(camera.lanes), threads)
    cropper = CameraPipeline(camera, model)
    crops = [cropper.crop(image) for image in images]
    bare: list[float] = []
    node: list[float] = []
    lanes_only: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        for batch in crops:
            model.invoke(batch)
        bare.append(time.perf_counter() - began)
        pipeline = CameraPipeline(camera, model)
        began = time.perf_counter()
        for n, image in enumerate(images):
            pipeline.lanes(n * 1000 // FPS, image)
        lanes_only.append(time.perf_counter() - began)
        pipeline = CameraPipeline(camera, model)
        presence = PresenceProcess(camera, lambda t, people: pipeline.see(t, people), block=True)  # noqa: B023 - waited for below
        presence.offer(Frame(0, images[0]))  # the child has started and learnt its first background
        presence.wait()
        began = time.perf_counter()
        for n, image in enumerate(images):
            t = n * 1000 // FPS
            pipeline.lanes(t, image)
            if n % PRESENCE_EVERY == 0:
                presence.offer(Frame(t, image))
        presence.wait()
        node.append(time.perf_counter() - began)
        presence.close()
    # Each round's two timings are taken back to back, so their ratio sees the same machine load.
    return {
        "ratio": statistics.median(b / n for b, n in zip(bare, node, strict=True)),
        "lane_path_ratio": statistics.median(b / n for b, n in zip(bare, lanes_only, strict=True)),
        "invoke_ms": 1000 * statistics.median(bare) / frames,
        "invoke_fps": frames / statistics.median(bare),
        "pipeline_fps": frames / statistics.median(node),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="XNNPACK threads, as [camera] threads (default: half the cores; presence and the runtime get the rest)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    lane_frames, scene_count, scene_s, frames = (1_000, 1, 40, 600) if args.quick else (3_000, 6, 300, 1_500)
    lanes = lane_f1(lane_frames, args.threads)
    print(f"lanes: {lanes['crops']} held-out crops, hand-in F1 {lanes['lane_f1']:.4f}, "
          f"3-class accuracy {lanes['lane_accuracy']:.4f}", flush=True)  # fmt: skip
    print(f"interactions: {scene_count} held-out scenes x {scene_s} s at {FPS} fps", flush=True)
    reaches = scenes(scene_count, scene_s, args.threads)
    print(
        f"  {reaches['reaches']} reaches: recall {reaches['interaction_recall']:.4f}, precision "
        f"{reaches['interaction_precision']:.4f}, t err p95 {reaches['t_err_p95_ms']:.0f} ms, holding right "
        f"{reaches['holding_accuracy']:.3f}, reacher placed within {reaches['reacher_err_p95_mm']:.0f} mm (p95)\n"
        f"  presence: {reaches['presence_scored']} people scored, error p95 {reaches['presence_err_p95_mm']:.0f} mm",
        flush=True,
    )
    speed = throughput(frames, args.threads)
    print(
        f"speed: {frames} frames, bare interpreter {speed['invoke_fps']:.0f} frames/s "
        f"({speed['invoke_ms']:.3f} ms each), "
        f"node pipeline {speed['pipeline_fps']:.0f} frames/s: ratio {speed['ratio']:.3f} ({args.threads} threads); "
        f"the lane path alone, without presence: {speed['lane_path_ratio']:.3f}",
        flush=True,
    )
    print(f"run took {time.monotonic() - started:.1f} s")
    result = {
        "model_bytes": DEFAULT_MODEL.stat().st_size,
        "lane_f1": round(lanes["lane_f1"], 4),
        "interaction_recall": round(reaches["interaction_recall"], 4),
        "interaction_precision": round(reaches["interaction_precision"], 4),
        "t_err_p95_ms": round(reaches["t_err_p95_ms"]),
        "pipeline_vs_invoke_ratio": round(speed["ratio"], 3),
        "presence_err_p95_mm": round(reaches["presence_err_p95_mm"]),
        "invoke_ms": round(speed["invoke_ms"], 3),
        "lane_path_ratio": round(speed["lane_path_ratio"], 3),
        "lane_accuracy": round(lanes["lane_accuracy"], 4),
        "holding_accuracy": round(reaches["holding_accuracy"], 4),
        "reaches": reaches["reaches"],
        "threads": args.threads,
        "quick": args.quick,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
