"""A node's boot never goes back (DESIGN section 5): moved to a new card, or run from a
restored image of an old card, it learns its newest boot from the gateway before it stamps
anything, and the gateway journals everything it sends. Real node processes, a real gateway
and a real Mosquitto."""

import json
import shutil
import signal
from pathlib import Path
from typing import Any

from edge.protocol.roles import Role
from firmware_tests.conftest import RPI_CMDLINE, RPI_CONFIG, Store, wait_until
from firmware_tests.test_provisioning_flash import first_boot_into
from gateway.provisioning.flash import flash_node


def send(store: Store, config: Path, events: int, name: str) -> dict[str, Any]:
    """Run the node of `config` for one boot that makes `events` weight events, until its spool
    has drained; what it says it made."""
    process = store.spawn(name, "-m", "hw.sim.traffic", "--config", str(config), "--events", str(events), "--rate", "0")
    assert process.wait(120) == 0
    summary: dict[str, Any] = json.loads((store.root / f"{name}.log").read_text().splitlines()[-1])
    assert summary["made"] == events and summary["spool"] == 0, summary
    return summary


def journaled_by_boot(store: Store, dev: str) -> dict[int, list[int]]:
    seqs: dict[int, list[int]] = {}
    for boot, seq in store.journaled(dev):
        seqs.setdefault(boot, []).append(seq)
    return seqs


def blank_card(root: Path) -> Path:
    """An SD card's boot partition as Raspberry Pi OS ships it, mounted."""
    root.mkdir()
    (root / "cmdline.txt").write_text(RPI_CMDLINE)
    (root / "config.txt").write_text(RPI_CONFIG)
    return root


def test_a_node_moved_to_a_new_card_as_installing_md_says_loses_nothing(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([])
    old_card = blank_card(store.root / "card-1")
    flash_node(store.site, "shelf-9", Role.SHELF, old_card, backend="sim")
    store.start_gateway()
    old = first_boot_into(old_card, store.root / "pi-1")[2]
    old_config = store.root / "pi-1" / old.lstrip("/")
    boots = [send(store, old_config, 30, f"old-{n}")["boot"] for n in range(3)]
    assert boots == [1, 2, 3]

    # installing.md: flash a new card with the same NODE (the key is kept) and put it in.
    new_card = blank_card(store.root / "card-2")
    flash_node(store.site, "shelf-9", Role.SHELF, new_card, backend="sim")
    new = first_boot_into(new_card, store.root / "pi-2")[2]
    new_config = store.root / "pi-2" / new.lstrip("/")
    assert not (new_config.parent / "state").exists(), "a new card has no boot state"
    assert send(store, new_config, 40, "new")["boot"] == 4
    assert send(store, new_config, 10, "new-again")["boot"] == 5

    wait_until(lambda: len(store.journaled("shelf-9")) >= 130, 30, "every event journaled")
    expected = {1: list(range(1, 31)), 2: list(range(1, 31)), 3: list(range(1, 31)), 4: list(range(1, 41))}
    assert journaled_by_boot(store, "shelf-9") == {**expected, 5: list(range(1, 11))}
    assert store.rejects() == {}


def test_a_node_run_from_a_restored_old_image_loses_nothing(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    config = store.node_config("shelf-01")
    state = config.parent / "state"
    send(store, config, 20, "boot-1")
    send(store, config, 20, "boot-2")
    image = store.root / "image-at-boot-2"
    shutil.copytree(state, image)
    send(store, config, 20, "boot-3")
    send(store, config, 20, "boot-4")

    shutil.rmtree(state)
    shutil.copytree(image, state)
    assert send(store, config, 25, "restored")["boot"] == 5

    wait_until(lambda: len(store.journaled("shelf-01")) >= 105, 30, "every event journaled")
    expected = {boot: list(range(1, 21)) for boot in (1, 2, 3, 4)}
    assert journaled_by_boot(store, "shelf-01") == {**expected, 5: list(range(1, 26))}
    assert store.rejects() == {}


def test_a_new_card_makes_nothing_until_the_gateway_answers(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    config = store.node_config("shelf-01")
    send(store, config, 10, "boot-1")
    store.kill_gateway()
    shutil.rmtree(config.parent / "state")  # a new card while the gateway is down
    node = store.start_node("shelf-01", 15, 0)
    log = store.root / "shelf-01.log"
    wait_until(lambda: log.exists() and b"waiting for the gateway" in log.read_bytes(), 20, "the node waiting")
    assert node.poll() is None and store.spooled("shelf-01") == 0
    assert not (config.parent / "state" / "boot.json").exists(), "no boot is taken before the gateway answers"
    store.start_gateway()
    assert node.wait(60) == 0
    wait_until(lambda: len(store.journaled("shelf-01")) >= 25, 30, "every event journaled")
    assert journaled_by_boot(store, "shelf-01") == {1: list(range(1, 11)), 2: list(range(1, 16))}
    assert store.rejects() == {}


def test_a_node_with_boot_state_starts_on_its_own_count_when_the_gateway_is_down(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    config = store.node_config("shelf-01")
    config.write_text(config.read_text() + "\n[boot]\ngateway_wait_s = 1\n")
    send(store, config, 10, "boot-1")
    store.kill_gateway()
    node = store.start_node("shelf-01", 15, 0, "--linger")
    wait_until(lambda: store.spooled("shelf-01") == 15, 30, "events made and held while the gateway is down")
    assert b"the gateway did not answer in 1 s" in (store.root / "shelf-01.log").read_bytes()
    store.start_gateway()
    wait_until(lambda: len(store.journaled("shelf-01")) >= 25, 30, "every event journaled")
    assert journaled_by_boot(store, "shelf-01") == {1: list(range(1, 11)), 2: list(range(1, 16))}
    node.send_signal(signal.SIGTERM)
    assert node.wait(20) == 0


def test_what_a_node_left_in_its_spool_is_sent_after_it_asked_for_its_boot(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    config = store.node_config("shelf-01")
    send(store, config, 10, "boot-1")
    store.kill_gateway()
    held = store.start_node("shelf-01", 30, 0, "--linger")  # boot 2: 10 s unanswered, then its own count
    wait_until(lambda: store.spooled("shelf-01") == 30, 40, "30 events held while the gateway is down")
    held.send_signal(signal.SIGKILL)
    held.wait(10)
    store.start_gateway()
    assert send(store, config, 5, "boot-3")["boot"] == 3
    wait_until(lambda: len(store.journaled("shelf-01")) >= 45, 30, "every event journaled")
    assert journaled_by_boot(store, "shelf-01") == {1: list(range(1, 11)), 2: list(range(1, 31)), 3: [1, 2, 3, 4, 5]}
    assert store.spooled("shelf-01") == 0 and store.rejects() == {}
