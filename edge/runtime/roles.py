"""The role apps this build carries: each takes the running node and a stop event and runs
until the event is set. The shelf, camera and gate packages add theirs here."""

import threading
from collections.abc import Callable

from edge.camera.app import run_camera
from edge.protocol.roles import Role
from edge.runtime.node import Node
from edge.shelf.app import run_shelf

RoleApp = Callable[[Node, threading.Event], None]

ROLE_APPS: dict[Role, RoleApp] = {Role.SHELF: run_shelf, Role.CAMERA: run_camera}
