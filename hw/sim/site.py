"""A provisioned site for a simulated store: keys, registry, gateway and node configs, made
in one call by the same provisioning code an installer runs."""

from pathlib import Path

from edge.protocol.roles import Role
from gateway.provisioning.provision import add_node, init_site
from gateway.provisioning.site import Site


def build_site(
    root: Path, store: str, nodes: list[tuple[str, Role]], broker_port: int, watches: dict[str, str] | None = None
) -> Site:
    """`watches` maps a camera node to the shelf it watches."""
    site = Site(root)
    init_site(site, store, "gateway", "127.0.0.1", broker_port)
    for node, role in nodes:
        add_node(site, node, role, shelf=(watches or {}).get(node))
    return site
