"""Frame sources: the Pi camera through picamera2 (a simulated camera behind the real
source), recorded frames from a folder, and the backend choice."""

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge.camera.picamera2_source import Picamera2Source, to_rgb, yuv420_to_rgb
from edge.camera.replay_source import ReplaySource
from edge.camera.sources import open_source
from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError
from edge.runtime.config import CameraConfig, HardwareConfig, NodeConfig
from hw.sim import picamera2 as fake
from hw.sim.camera_render import FrameSpec, Person, Reach, Renderer, ShelfView

VIEW = ShelfView()
FRAME = Renderer(VIEW).render(FrameSpec((3, 17, 42, 99), (Person(600, 350, reach=Reach(2, item_texture=5)),), seed=1))


def test_yuv420_with_padded_rows_comes_back_as_the_rgb_it_was() -> None:
    small = FRAME[:150, :200]  # 200 wide: rows padded to 256 at a 64-byte alignment
    planes = fake.rgb_to_yuv420(small, stride=256)
    assert planes.shape == (225, 256)
    rgb = yuv420_to_rgb(planes, 200, 150)
    assert rgb.shape == (150, 200, 3)
    # Chroma is shared by 2x2 pixels, so sharp colour edges blur; the bulk is within a few levels.
    error = np.abs(rgb.astype(int) - small.astype(int))
    assert np.median(error) <= 2 and np.percentile(error, 90) <= 12


def test_rgb888_is_blue_first_in_memory_and_comes_back_red_first() -> None:
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 2] = 255  # picamera2's RGB888: [B, G, R]
    assert (to_rgb(red, "RGB888", 2, 2)[0, 0] == (255, 0, 0)).all()
    assert (to_rgb(red, "BGR888", 2, 2)[0, 0] == (0, 0, 255)).all()
    with pytest.raises(ValueError, match="XRGB8888"):
        to_rgb(red, "XRGB8888", 2, 2)


@pytest.fixture
def camera() -> Iterator[fake.SimCamera]:
    camera = fake.SimCamera(lambda t_ms: FRAME)
    fake.install(camera)
    yield camera
    fake.uninstall()


@pytest.mark.parametrize("pixel_format", ["YUV420", "RGB888"])
def test_the_picamera2_source_gives_rgb_frames_stamped_at_exposure(camera: fake.SimCamera, pixel_format: str) -> None:
    source = Picamera2Source((VIEW.width, VIEW.height), 30, pixel_format)
    frames = [source.read() for _ in range(4)]
    source.close()
    assert camera.opened == camera.closed == 1
    for frame in frames:
        assert frame.image.shape == (VIEW.height, VIEW.width, 3) and frame.image.dtype == np.uint8
        assert np.median(np.abs(frame.image.astype(int) - FRAME.astype(int))) <= 2
    gaps = np.diff([f.t_ms for f in frames])
    assert all(20 <= gap <= 50 for gap in gaps), f"frames 33 ms apart at 30 fps, stamped {gaps}"


def test_no_camera_connected_is_an_error_not_a_hang() -> None:
    fake.install(None)
    try:
        with pytest.raises(RuntimeError, match="Camera __init__"):
            Picamera2Source((VIEW.width, VIEW.height), 30, "YUV420")
    finally:
        fake.uninstall()


def test_a_size_the_camera_adjusts_is_refused_and_the_camera_released() -> None:
    camera = fake.install(fake.SimCamera(lambda t_ms: FRAME[:144, :208], size_align=16))
    try:
        with pytest.raises(ValueError, match="not the configured"):
            Picamera2Source((200, 144), 30, "YUV420")  # libcamera would give 208 x 144
        assert camera is not None and camera.opened == camera.closed == 1
    finally:
        fake.uninstall()


def test_a_slow_reader_gets_the_newest_frame_not_a_backlog(camera: fake.SimCamera) -> None:
    source = Picamera2Source((VIEW.width, VIEW.height), 30, "RGB888")
    first = source.read()
    time.sleep(0.5)  # 15 frames' time
    late = source.read()
    source.close()
    assert late.t_ms - first.t_ms >= 400, "the frames exposed while nobody read are gone"
    assert late.t_ms <= wall_ms(), "and the one returned was exposed before it was read"


def _write(folder: Path, names: list[str], image: np.ndarray = FRAME) -> None:
    folder.mkdir(exist_ok=True)
    for name in names:
        Image.fromarray(image).save(folder / name)


def test_replay_keeps_the_recorded_times_of_frames_named_in_ms(tmp_path: Path) -> None:
    _write(tmp_path / "rec", ["1000.png", "1040.png", "980.png", "2000.png"])
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    source = ReplaySource(tmp_path / "rec", (VIEW.width, VIEW.height), 15, clock=lambda: now[0], sleep=sleep)
    times = []
    while (frame := source.read()) is not None:
        times.append(frame.t_ms)
        assert np.array_equal(frame.image, FRAME), "PNG is lossless"
    assert np.diff(times).tolist() == [20, 40, 960], "980 plays first: numbers, not names, set the order"
    assert sum(slept) == pytest.approx(1.02)
    assert source.read() is None


def test_replay_of_other_names_plays_at_the_frame_rate(tmp_path: Path) -> None:
    _write(tmp_path / "rec", ["b.png", "a.jpg", "c.png"])
    (tmp_path / "rec" / "notes.txt").write_text("not a frame")
    source = ReplaySource(tmp_path / "rec", (VIEW.width, VIEW.height), 10, sleep=lambda s: None)
    frames = [source.read() for _ in range(4)]
    assert frames[3] is None
    assert [f.t_ms - frames[0].t_ms for f in frames[:3] if f] == [0, 100, 200]


def test_replay_refuses_an_empty_folder_and_frames_of_another_size(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no PNG or JPEG"):
        ReplaySource(tmp_path / "empty", (256, 192), 15)
    _write(tmp_path / "big", ["0.png"], np.zeros((480, 640, 3), np.uint8))
    with pytest.raises(ValueError, match="640x480"):
        ReplaySource(tmp_path / "big", (256, 192), 15).read()


def _config(backend: str, **hardware: object) -> NodeConfig:
    return NodeConfig(
        node="cam-1",
        role="camera",  # type: ignore[arg-type]
        store="s",
        keys={"device": "k", "gateway": "g"},  # type: ignore[arg-type]
        hardware=HardwareConfig(backend=backend, **hardware),  # type: ignore[arg-type]
        camera=CameraConfig(shelf="shelf-01"),
    )


def test_the_backend_is_chosen_from_the_config_with_clear_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="path names the folder"):
        open_source(_config("replay"), tmp_path)
    with pytest.raises(ConfigError, match="picamera2, replay, sim"):
        open_source(_config("gpio"), tmp_path)
    _write(tmp_path / "rec", ["0.png"])
    assert isinstance(open_source(_config("replay", path="rec"), tmp_path), ReplaySource)
