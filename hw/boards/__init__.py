"""Board definitions: for each node role, the Raspberry Pi hardware it runs on as shipped.

`make flash` reads these to write a device's first boot: the hardware backend and pins for
its node.toml, the Debian packages and the package extra it installs, the groups its
service user needs (dialout for every one: the console's UART), the firmware settings
(config.txt) and the udev names of its USB devices. docs/hardware.md shows the wiring each one assumes.
"""

from dataclasses import dataclass, field

from edge.protocol.roles import Role

# MicroPython's USB CDC on an RP2040 (Raspberry Pi's vendor id, MicroPython's product id).
VENDOR, PRODUCT = "2e8a", "0005"
SHELF_MCU_PORT = "/dev/shelf-mcu"
# The technicians' console: the UART on header pins 8 (TX) and 10 (RX), whichever UART the
# Pi model routes there (serial0 always names it).
CONSOLE_PORT = "/dev/serial0"
_SHELF_MCU_RULE = (
    f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{VENDOR}", ATTRS{{idProduct}}=="{PRODUCT}", '
    f'SYMLINK+="{SHELF_MCU_PORT.removeprefix("/dev/")}", GROUP="dialout", MODE="0660"'
)


@dataclass(frozen=True, slots=True)
class Board:
    role: Role
    backend: str
    hardware: dict[str, object] = field(default_factory=dict)  # more of node.toml's [hardware]
    apt_packages: tuple[str, ...] = ()
    extra: str = ""  # the package extra the role's app needs (edge/runtime/roles.py)
    groups: tuple[str, ...] = ()
    config_txt: tuple[str, ...] = ()  # lines for the [all] section of the boot partition's config.txt
    udev_rules: tuple[str, ...] = ()


# Every node has the UART for the technicians' console (its login console is turned off).
_UART = ("enable_uart=1",)
_BASE_PACKAGES = ("python3-venv", "python3-pip", "sqlite3")

BOARDS: dict[Role, Board] = {
    Role.SHELF: Board(
        role=Role.SHELF,
        backend="mcu",
        hardware={"port": SHELF_MCU_PORT},
        apt_packages=_BASE_PACKAGES,
        extra="",  # the mcu backend needs only pyserial; `pi` would build picamera2 and RPi.GPIO
        groups=("dialout",),
        config_txt=_UART,
        udev_rules=(_SHELF_MCU_RULE,),
    ),
    Role.CAMERA: Board(
        role=Role.CAMERA,
        backend="picamera2",
        apt_packages=(*_BASE_PACKAGES, "python3-picamera2"),
        extra="camera",
        groups=("video", "dialout"),
        config_txt=(*_UART, "camera_auto_detect=1"),
    ),
    Role.GATE: Board(
        role=Role.GATE,
        backend="gpio",
        apt_packages=(*_BASE_PACKAGES, "python3-lgpio"),
        extra="gate",
        groups=("gpio", "dialout"),
        config_txt=_UART,
    ),
}
