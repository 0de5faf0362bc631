"""Node configuration from TOML, validated strictly, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from edge.protocol.configfile import BrokerConfig, ConfigError, NodeId, Section, read_toml
from edge.protocol.roles import DEVICE_ROLES, Role


class KeysConfig(Section, frozen=True):
    device: str
    gateway: str
    upstream_sign: str | None = None
    upstream_seal: str | None = None


class GatewayPeer(Section, frozen=True):
    id: NodeId = "gateway"


class HealthConfig(Section, frozen=True):
    interval_s: Annotated[int, Meta(ge=1, le=3600)] = 30


class BootConfig(Section, frozen=True):
    # A node with boot state asks the gateway for its newest boot too (its card may be an old
    # image) but starts on its own count after this long unanswered, so that a store whose
    # gateway is down still runs. A node without boot state waits for the answer however long.
    gateway_wait_s: Annotated[int, Meta(ge=0, le=3600)] = 10


class SpoolConfig(Section, frozen=True):
    sync: Literal["full", "normal"] = "full"
    max_inflight: Annotated[int, Meta(ge=1, le=10000)] = 200


class HardwareConfig(Section, frozen=True):
    backend: NodeId
    # gpio: one HX711 per lane, each on its own clock and data pins (BCM numbers), by lane
    dout_pins: list[Annotated[int, Meta(ge=0, le=40)]] = []
    sck_pins: list[Annotated[int, Meta(ge=0, le=40)]] = []
    # mcu: the RP2040 board's serial port (a stable udev name, e.g. /dev/serial/by-id/...)
    port: str | None = None
    # sim: the seed of the simulated shoppers
    seed: int = 0
    # sim: a store world's drive for this node (hw/sim/world/drives.py); unset, the node's own random shoppers
    drive: str | None = None
    # replay (camera): a folder of recorded frames (PNG/JPEG, played in name order)
    path: str | None = None


class ShelfConfig(Section, frozen=True):
    """A shelf node's lanes and detector settings."""

    id: NodeId
    lanes: Annotated[list[Annotated[int, Meta(ge=0, le=1023)]], Meta(min_length=1, max_length=64)] = msgspec.field(
        default_factory=lambda: [0, 1, 2, 3]
    )
    rate_sps: Literal[10, 80] = 10
    noise_mg: Annotated[int, Meta(ge=1, le=1_000_000)] = 1_000
    min_delta_mg: Annotated[int, Meta(ge=1, le=100_000_000)] = 8_000
    drift_limit_mg: Annotated[int, Meta(ge=1, le=100_000_000)] = 50_000
    telemetry_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 60


Pixel = Annotated[int, Meta(ge=-10_000, le=10_000)]
FloorMm = Annotated[int, Meta(ge=-1_000_000, le=1_000_000)]


class CameraConfig(Section, frozen=True):
    """A camera node's view of one shelf. The defaults are the reference mount the model was
    trained for (docs/hardware.md); an installer sets rois and the floor marks from a frame of
    the camera as mounted."""

    shelf: NodeId
    lanes: Annotated[list[Annotated[int, Meta(ge=0, le=1023)]], Meta(min_length=1, max_length=16)] = msgspec.field(
        default_factory=lambda: [0, 1, 2, 3]
    )
    width: Annotated[int, Meta(ge=64, le=1920)] = 256  # the low-resolution stream the node works on
    height: Annotated[int, Meta(ge=48, le=1080)] = 192
    fps: Annotated[int, Meta(ge=1, le=60)] = 15
    # picamera2's lores format: RGB888 needs a Pi 5 (the design's camera board); a Pi 4 only gives YUV420
    format: Literal["YUV420", "RGB888", "BGR888"] = "RGB888"
    # Per lane, in the order of lanes: [x0, y0, x1, y1], the lane's front down to the shelf edge.
    rois: list[tuple[Pixel, Pixel, Pixel, Pixel]] = msgspec.field(
        default_factory=lambda: [(16, 48, 72, 98), (72, 48, 128, 98), (128, 48, 184, 98), (184, 48, 240, 98)]
    )
    # Four or more marks on the aisle floor: where each is in the image, and in store millimetres.
    floor_image: list[tuple[Pixel, Pixel]] = msgspec.field(
        default_factory=lambda: [(24, 102), (232, 102), (296, 191), (-40, 191)]
    )
    floor_mm: list[tuple[FloorMm, FloorMm]] = msgspec.field(
        default_factory=lambda: [(0, 100), (1200, 100), (1200, 1600), (0, 1600)]
    )
    floor_top: Annotated[int, Meta(ge=0, le=1080)] = 98  # the first image row of aisle floor
    model: str | None = None  # a .tflite of the hand-in-lane kind; None: the one this build carries
    threads: Annotated[int, Meta(ge=1, le=8)] = 2  # XNNPACK threads of the interpreter
    presence_hz: Annotated[int, Meta(ge=1, le=30)] = 5
    reach_mm: Annotated[int, Meta(ge=100, le=3000)] = 900  # farthest a reaching person stands from the lane

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2:
            raise ValueError(f"[camera] width and height must be even (YUV420 halves them): {self.width}x{self.height}")
        if len(self.rois) != len(self.lanes):
            raise ValueError(
                f"[camera] has {len(self.lanes)} lanes but {len(self.rois)} rois: one [x0, y0, x1, y1] each"
            )
        for lane, (x0, y0, x1, y1) in zip(self.lanes, self.rois, strict=True):
            if not (0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height):
                raise ValueError(
                    f"[camera] lane {lane}'s roi {[x0, y0, x1, y1]} is not inside {self.width}x{self.height}"
                )
        if len(self.floor_image) != len(self.floor_mm) or len(self.floor_mm) < 4:
            raise ValueError("[camera] floor_image and floor_mm need the same four or more marks")
        if self.floor_top >= self.height:
            raise ValueError(f"[camera] floor_top {self.floor_top} is below the {self.height}-row image")


Pin = Annotated[int, Meta(ge=0, le=27)]  # BCM GPIO numbers on the 40-pin header


class GateConfig(Section, frozen=True):
    """A gate controller: its turnstile, the palm and QR checks before a credential is sent,
    and its pins (BCM numbers; docs/hardware.md)."""

    name: NodeId | None = None  # the `gate` of its passage events; the node id when unset
    x_mm: FloorMm = 0  # where the gate stands on the store's floor
    y_mm: FloorMm = 0
    pulse_ms: Annotated[int, Meta(ge=200, le=1000)] = 500
    grant_ms: Annotated[int, Meta(ge=1000, le=60_000)] = 8_000
    authorise_ms: Annotated[int, Meta(ge=500, le=30_000)] = 3_000
    held_ms: Annotated[int, Meta(ge=1000, le=600_000)] = 15_000
    fail_mode: Literal["safe", "secure"] = "safe"
    min_quality_pm: Annotated[int, Meta(ge=0, le=1000)] = 300  # below: the shopper is asked to try again
    min_live_pm: Annotated[int, Meta(ge=0, le=1000)] = 500  # below: refused at the gate, never sent
    watchdog: str | None = None  # a watchdog device, e.g. /dev/watchdog
    qr_port: str | None = None  # the QR scanner's serial port (a stable udev name)
    relay_pin: Pin = 17
    outer_beam_pin: Pin = 27
    inner_beam_pin: Pin = 22
    fire_pin: Pin = 23
    beams_blocked_high: bool = True
    fire_active_high: bool = False


SERVICE_PIN_HASH = "service-pin.hash"  # beside node.toml: what provisioning writes, what the node reads


class ConsoleConfig(Section, frozen=True):
    """The diagnostics console (docs/operations.md, "Servicing a node")."""

    # the Pi's UART on header pins 8 and 10 ("/dev/serial0"), or USB gadget serial ("/dev/ttyGS0")
    port: str
    baud: Literal[9600, 19200, 38400, 57600, 115200] = 115200
    # the Argon2id hash of the node's service PIN; without it, no service mode
    pin_hash: str = SERVICE_PIN_HASH


class NodeConfig(Section, frozen=True):
    node: NodeId
    role: Role
    store: NodeId
    keys: KeysConfig
    hardware: HardwareConfig
    state_dir: str = "state"
    broker: BrokerConfig = BrokerConfig()
    gateway: GatewayPeer = GatewayPeer()
    health: HealthConfig = HealthConfig()
    boot: BootConfig = BootConfig()
    spool: SpoolConfig = SpoolConfig()
    console: ConsoleConfig | None = None
    shelf: ShelfConfig | None = None
    camera: CameraConfig | None = None
    gate: GateConfig | None = None


def load_node_config(path: Path) -> tuple[NodeConfig, Path]:
    """Return the config and the directory its relative paths are resolved against."""
    config = read_toml(path, NodeConfig)
    if config.role not in DEVICE_ROLES:
        raise ConfigError(f"{path}: role {config.role!r} is not a node role ({', '.join(DEVICE_ROLES)})")
    return config, path.resolve().parent
