"""The role apps this build carries: each takes the running node and a stop event and runs
until the event is set. Each is imported only when its role runs, so a node installs only
its own role's extra (`pip install storeedge[camera]`, `[gate]`, ...)."""

import importlib
import threading
from collections.abc import Callable

from edge.protocol.configfile import ConfigError
from edge.protocol.roles import Role
from edge.runtime.node import Node

RoleApp = Callable[[Node, threading.Event], None]

_APPS: dict[Role, tuple[str, str, str]] = {  # module, function, the extra it needs
    Role.SHELF: ("edge.shelf.app", "run_shelf", "pi"),
    Role.CAMERA: ("edge.camera.app", "run_camera", "camera"),
    Role.GATE: ("edge.gate.app", "run_gate", "gate"),
}


def role_app(role: Role) -> RoleApp:
    if role not in _APPS:
        raise ConfigError(f"this build has no app for role {role}")
    module, function, extra = _APPS[role]
    try:
        app: RoleApp = getattr(importlib.import_module(module), function)
    except ImportError as error:
        needed = f"pip install 'storeedge[{extra}]'"
        raise ConfigError(f"the {role} app needs the `{extra}` extra: {needed} ({error})") from None
    return app
