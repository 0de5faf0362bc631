"""A provisioned site for a simulated store, and the reference upstream beside it: keys,
registry, gateway, upstream and node configs, made in one call by the same provisioning
code an installer runs."""

from pathlib import Path

from edge.protocol.roles import Role
from gateway.provisioning.provision import add_node, init_site
from gateway.provisioning.site import Site
from upstream.home import UpstreamHome
from upstream.provision import add_store, init_upstream


def upstream_home_of(site: Site) -> UpstreamHome:
    """The reference upstream `build_site` set up beside `site`."""
    return UpstreamHome(site.root.parent / "upstream")


def build_site(
    root: Path,
    store: str,
    nodes: list[tuple[str, Role]],
    broker_port: int,
    watches: dict[str, str] | None = None,
    upstream_port: int = 1884,
) -> Site:
    """`watches` maps a camera node to the shelf it watches; upstream's broker listens on `upstream_port`."""
    site = Site(root)
    home = upstream_home_of(site)
    init_upstream(home, "127.0.0.1", upstream_port)
    add_store(home, store)
    init_site(site, store, "gateway", "127.0.0.1", broker_port, home.kit(store))
    for node, role in nodes:
        add_node(site, node, role, shelf=(watches or {}).get(node))
    return site
