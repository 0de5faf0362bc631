"""gateway/registry.py: the device registry, its TOML round trip and its refusals."""

import base64
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge.protocol.configfile import ConfigError
from edge.protocol.keys import fingerprint
from edge.protocol.roles import Role
from gateway.registry import Device, Registry, load_registry, save_registry


def key_text() -> str:
    return base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()


def entry(section: str, node: str, role: str, public_key: str | None = None, extra: str = "") -> str:
    return (
        f'[{section}]\nnode = "{node}"\nrole = "{role}"\npublic_key = "{public_key or key_text()}"\n'
        f'mqtt_password_hash = "$7$101$c2FsdA==$ZGlnZXN0"\n{extra}\n'
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_registry(path)
    return str(caught.value)


def test_save_load_round_trip(tmp_path: Path) -> None:
    registry = Registry("store-7")
    gateway_key = SigningKey.generate().verify_key
    registry.gateway = Device("gateway", Role.GATEWAY, gateway_key, "$7$101$Z2F0ZQ==$aGFzaA==")
    keys = {node: SigningKey.generate().verify_key for node in ("shelf-2", "cam-1", "gate-1", "shelf-1")}
    roles = {"shelf-2": Role.SHELF, "cam-1": Role.CAMERA, "gate-1": Role.GATE, "shelf-1": Role.SHELF}
    for node, key in keys.items():
        registry.add(Device(node, roles[node], key, f"$7$101$hash-of-{node}"))
    path = tmp_path / "sub" / "registry.toml"
    save_registry(path, registry)
    loaded = load_registry(path)
    assert loaded == registry
    assert loaded.store == "store-7"
    assert loaded.gateway is not None and bytes(loaded.gateway.key) == bytes(gateway_key)
    for node, key in keys.items():
        device = loaded.get(node)
        assert device is not None
        assert device.role is roles[node]
        assert bytes(device.key) == bytes(key)
        assert device.fingerprint == fingerprint(bytes(key))
        assert device.mqtt_password_hash == f"$7$101$hash-of-{node}"
    text = path.read_text()
    assert text.index('"cam-1"') < text.index('"gate-1"') < text.index('"shelf-1"') < text.index('"shelf-2"')
    assert not (path.parent / "registry.toml.tmp").exists()


def test_empty_registry_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    save_registry(path, Registry("s1"))
    loaded = load_registry(path)
    assert loaded.store == "s1"
    assert loaded.gateway is None
    assert loaded.devices == {}


def test_add_get_remove() -> None:
    registry = Registry("s1")
    device = Device("n1", Role.CAMERA, SigningKey.generate().verify_key, "h")
    registry.add(device)
    assert registry.get("n1") is device
    assert registry.get("n2") is None
    assert registry.remove("n1") is device
    assert registry.get("n1") is None


@pytest.mark.parametrize("role", [Role.GATEWAY, Role.UPSTREAM])
def test_add_refuses_a_non_device_role(role: Role) -> None:
    with pytest.raises(ValueError, match="not a device role"):
        Registry("s1").add(Device("n1", role, SigningKey.generate().verify_key, "h"))


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n[[device]\nnode = \n')
    message = config_error(path)
    assert str(path) in message
    assert "TOML" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in config_error(tmp_path / "absent.toml")


def test_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("[device]", "n1", "shelf", extra='colour = "blue"'))
    message = config_error(path)
    assert str(path) in message
    assert "colour" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    assert "owner" in config_error(write(tmp_path, 'store = "s1"\nowner = "me"\n'))


@pytest.mark.parametrize(
    "public_key",
    ["not base64!!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(33)).decode()],
)
def test_bad_public_key(tmp_path: Path, public_key: str) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("[device]", "n1", "shelf", public_key))
    message = config_error(path)
    assert "public key of n1" in message
    assert str(path) in message


def test_duplicate_node_id(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("[device]", "n1", "shelf") + entry("[device]", "n1", "camera"))
    assert "n1 appears twice" in config_error(path)


def test_device_with_the_gateway_node_id(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("gateway", "gw", "gateway") + entry("[device]", "gw", "shelf"))
    assert "gw appears twice" in config_error(path)


def test_device_with_role_gateway(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("[device]", "n1", "gateway"))
    message = config_error(path)
    assert "n1" in message
    assert "not a device role" in message


def test_gateway_section_with_a_device_role(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "s1"\n' + entry("gateway", "gw", "shelf"))
    assert 'role = "gateway"' in config_error(path)


def test_unknown_role(tmp_path: Path) -> None:
    assert "role" in config_error(write(tmp_path, 'store = "s1"\n' + entry("[device]", "n1", "toaster")))


@pytest.mark.parametrize("node", ["Shelf-1", "shelf_1", "", "-shelf-1"])  # provisioning refuses them all
def test_bad_node_id(tmp_path: Path, node: str) -> None:
    assert "node" in config_error(write(tmp_path, 'store = "s1"\n' + entry("[device]", node, "shelf")))


def test_missing_store(tmp_path: Path) -> None:
    assert "store" in config_error(write(tmp_path, entry("[device]", "n1", "shelf")))
