"""Node configuration: strict TOML, defaults, paths resolved against the file, errors naming file and key."""

from pathlib import Path

import pytest

from edge.protocol.configfile import ConfigError, read_toml, resolve
from edge.protocol.roles import Role
from edge.runtime.config import NodeConfig, load_node_config

MINIMAL = """\
node = "shelf-1"
role = "shelf"
store = "store-7"

[keys]
device = "keys/device.key"
gateway = "keys/gateway.pub"

[hardware]
backend = "sim"
"""


def write(tmp_path: Path, text: str, name: str = "node.toml") -> Path:
    path = tmp_path / "etc" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    config, base = load_node_config(path)
    assert isinstance(config, NodeConfig)
    assert (config.node, config.role, config.store) == ("shelf-1", Role.SHELF, "store-7")
    assert config.keys.device == "keys/device.key"
    assert config.keys.gateway == "keys/gateway.pub"
    assert config.keys.upstream_sign is None and config.keys.upstream_seal is None
    assert config.state_dir == "state"
    assert (config.broker.host, config.broker.port, config.broker.password_file) == ("127.0.0.1", 1883, None)
    assert config.broker.keepalive_s == 15
    assert (config.broker.reconnect_min_s, config.broker.reconnect_max_s) == (1, 60)
    assert config.gateway.id == "gateway"
    assert config.health.interval_s == 30
    assert (config.spool.sync, config.spool.max_inflight) == ("full", 200)
    assert config.hardware.backend == "sim"
    assert base == path.parent.resolve()


def test_the_hardware_backend_is_never_assumed(tmp_path: Path) -> None:
    without = MINIMAL[: MINIMAL.index("[hardware]")]
    assert "missing required field `hardware`" in config_error(write(tmp_path, without))


@pytest.mark.parametrize("role", [Role.SHELF, Role.CAMERA, Role.GATE])
def test_every_node_role_loads(tmp_path: Path, role: Role) -> None:
    config, _ = load_node_config(write(tmp_path, MINIMAL.replace('"shelf"', f'"{role}"')))
    assert config.role is role


def test_full_config_overrides_defaults(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('backend = "sim"', 'backend = "hx711"')
        + """
[broker]
host = "broker.local"
port = 8883
password_file = "secrets/mqtt.pw"
keepalive_s = 30

[gateway]
id = "gw-main"

[spool]
sync = "normal"
max_inflight = 50
"""
    )
    config, _ = load_node_config(write(tmp_path, text))
    assert (config.broker.host, config.broker.port, config.broker.keepalive_s) == ("broker.local", 8883, 30)
    assert config.broker.password_file == "secrets/mqtt.pw"
    assert config.gateway.id == "gw-main"
    assert (config.spool.sync, config.spool.max_inflight) == ("normal", 50)
    assert config.hardware.backend == "hx711"


def test_relative_paths_resolve_against_the_file_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config, base = load_node_config(Path("..") / "etc" / "node.toml")
    assert base.is_absolute()
    assert base == path.parent.resolve()
    assert resolve(base, config.keys.device) == path.parent.resolve() / "keys" / "device.key"
    assert resolve(base, config.state_dir) == path.parent.resolve() / "state"


def test_resolve_keeps_absolute_paths_and_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve(tmp_path, "/etc/storeedge/device.key") == Path("/etc/storeedge/device.key")
    assert resolve(tmp_path, "~/keys/gw.pub") == tmp_path / "home" / "keys" / "gw.pub"
    assert resolve(tmp_path / "base", "a/b") == tmp_path / "base" / "a" / "b"


def test_missing_file(tmp_path: Path) -> None:
    message = config_error(tmp_path / "absent.toml")
    assert "cannot read config" in message


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    config_error(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["this is not toml", 'node = "unterminated', "[keys\ndevice = 1", 'node = "a"\nnode = "b"\n', "{}"],
    ids=["prose", "unterminated", "bad-table", "duplicate-key", "braces"],
)
def test_non_toml_text(tmp_path: Path, text: str) -> None:
    message = config_error(write(tmp_path, text))
    assert "not valid TOML" in message


def test_invalid_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_bytes(MINIMAL.replace('"store-7"', '"store-\xff"').encode("latin-1"))
    config_error(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL + "\n[broker]\nprot = 1883\n", "prot"),
        (MINIMAL.replace("role =", "rol ="), "rol"),
        (MINIMAL.replace('store = "store-7"', 'store = "store-7"\nstatedir = "x"'), "statedir"),
        (MINIMAL.replace('gateway = "keys/gateway.pub"', 'gateway = "g"\ngatway = "g"'), "gatway"),
    ],
    ids=["in-section", "typo-of-required", "top-level", "keys"],
)
def test_unknown_key_is_named(tmp_path: Path, text: str, key: str) -> None:
    message = config_error(write(tmp_path, text))
    assert f"unknown field `{key}`" in message


def test_unknown_key_names_key_and_section(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, MINIMAL + "\n[broker]\nprot = 1883\n"))
    assert "unknown field `prot`" in message
    assert "$.broker" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (MINIMAL + '\n[broker]\nport = "1883"\n', "$.broker.port"),
        (MINIMAL + "\n[broker]\nport = 1883.0\n", "$.broker.port"),
        (MINIMAL + "\n[health]\ninterval_s = true\n", "$.health.interval_s"),
        (MINIMAL.replace('node = "shelf-1"', "node = 7"), "$.node"),
        (MINIMAL.replace('store = "store-7"', 'store = "store-7"\nbroker = 5'), "$.broker"),
    ],
    ids=["str-for-int", "float-for-int", "bool-for-int", "int-for-str", "scalar-for-table"],
)
def test_wrong_type_names_the_key(tmp_path: Path, text: str, where: str) -> None:
    message = config_error(write(tmp_path, text))
    assert "Expected" in message
    assert where in message


@pytest.mark.parametrize("port", [0, 65536, -1, 100000])
def test_port_out_of_range(tmp_path: Path, port: int) -> None:
    message = config_error(write(tmp_path, MINIMAL + f"\n[broker]\nport = {port}\n"))
    assert "$.broker.port" in message


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_are_inclusive(tmp_path: Path, port: int) -> None:
    config, _ = load_node_config(write(tmp_path, MINIMAL + f"\n[broker]\nport = {port}\n"))
    assert config.broker.port == port


@pytest.mark.parametrize("role", ["gateway", "upstream"])
def test_non_node_role_is_refused(tmp_path: Path, role: str) -> None:
    message = config_error(write(tmp_path, MINIMAL.replace('"shelf"', f'"{role}"')))
    assert role in message
    assert "not a node role" in message


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, MINIMAL.replace('"shelf"', '"fridge"')))
    assert "$.role" in message


# "-shelf-1": read as an option by every command given the id; provisioning refuses it too
@pytest.mark.parametrize("node", ["Shelf-1", "shelf_1", "", "shelf 1", "a" * 65, "shelf/1", "shelf.1", "-shelf-1"])
def test_bad_node_id(tmp_path: Path, node: str) -> None:
    message = config_error(write(tmp_path, MINIMAL.replace('"shelf-1"', f'"{node}"')))
    assert "$.node" in message


def test_node_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, MINIMAL.replace('"shelf-1"', '"shelf-1\\n"')))
    assert "$.node" in message


def test_bad_store_and_gateway_ids(tmp_path: Path) -> None:
    assert "$.store" in config_error(write(tmp_path, MINIMAL.replace('"store-7"', '"Store-7"')))
    text = MINIMAL + '\n[gateway]\nid = "GW"\n'
    assert "$.gateway.id" in config_error(write(tmp_path, text, "gw.toml"))


def test_missing_keys_section(tmp_path: Path) -> None:
    text = MINIMAL.split("[keys]")[0]
    message = config_error(write(tmp_path, text))
    assert "keys" in message


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("broker", "keepalive_s", 4),
        ("broker", "reconnect_max_s", 3601),
        ("health", "interval_s", 0),
        ("spool", "max_inflight", 10001),
        ("spool", "sync", '"off"'),
    ],
)
def test_bounded_settings(tmp_path: Path, section: str, field: str, value: object) -> None:
    message = config_error(write(tmp_path, MINIMAL + f"\n[{section}]\n{field} = {value}\n"))
    assert f"$.{section}.{field}" in message


def test_read_toml_is_strict_for_any_schema(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "extra = 1\n")
    with pytest.raises(ConfigError, match="extra"):
        read_toml(path, NodeConfig)


CAMERA = MINIMAL.replace('role = "shelf"', 'role = "camera"') + '\n[camera]\nshelf = "shelf-01"\n'


def test_a_camera_table_defaults_to_the_reference_mount(tmp_path: Path) -> None:
    config, _ = load_node_config(write(tmp_path, CAMERA))
    camera = config.camera
    assert camera is not None and camera.shelf == "shelf-01"
    assert (camera.width, camera.height, camera.fps, camera.format) == (256, 192, 15, "RGB888")
    assert camera.lanes == [0, 1, 2, 3] and len(camera.rois) == 4 and len(camera.floor_mm) == 4


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("lanes = [0, 1]", "2 lanes but 4 rois"),
        ("rois = [[16, 48, 72, 98], [72, 48, 128, 98], [128, 48, 184, 98], [184, 48, 300, 98]]", "lane 3's roi"),
        ("floor_mm = [[0, 100], [1200, 100], [1200, 1600]]", "floor_image and floor_mm"),
        ("floor_top = 192", "floor_top 192"),
        ('format = "XRGB8888"', "format"),
        ("width = 255", "must be even"),
    ],
)
def test_a_camera_table_that_does_not_add_up_is_refused_by_name(tmp_path: Path, extra: str, named: str) -> None:
    assert named in config_error(write(tmp_path, CAMERA + extra + "\n"))
