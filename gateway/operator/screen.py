"""`storegw top`'s screen: a board in, lines of text out, cut to the terminal. Pure: the
caller gives the time and the size; the local time zone is only used to print clocks."""

import datetime

from gateway.operator.board import Board
from gateway.operator.model import DeviceView, LaneView

ALERTS_SHOWN = 6


def render(board: Board, connection: str, now_ms: int, width: int, height: int) -> list[str]:
    """The screen, at most `height` lines of at most `width` characters. `connection`: how
    the dashboard's own link to the broker is, shown on the first line."""
    lines = _header(board, connection, now_ms)
    lines += ["", f"{'DEVICE':<14}{'ROLE':<8}{'STATE':<9}{'SEEN':>6}{'BOOT':>6}{'SPOOL':>7}{'TEMP':>8}  ALERTS"]
    lines += [_device(device, now_ms) for device in sorted(board.devices.values(), key=lambda d: d.node)]
    lines += ["", f"{'SHELF':<14}{'LANE':>4}  {'PRODUCT':<14}{'WEIGHT':>10}{'STOCK':>7}  MISPLACED"]
    for shelf in sorted(board.shelves.values(), key=lambda s: s.shelf):
        lines += [_lane(shelf.shelf if i == 0 else "", lane) for i, lane in enumerate(shelf.lanes)]
    lines += ["", f"{'SESSION':<22}{'STATE':<8}{'PEOPLE':>7}{'INSIDE':>7}{'ITEMS':>6}  FLAGS"]
    for session in sorted(board.sessions.values(), key=lambda s: s.opened_ms):
        items = sum(qty for _, qty in session.lines)
        lines.append(
            f"{session.session:<22}{session.state:<8}{session.people:>7}{session.inside:>7}{items:>6}  "
            + ", ".join(session.flags)
        )
    alerts = list(board.alerts)[-ALERTS_SHOWN:]
    tail = ["", "ALERTS" + ("" if alerts else "  none since this dashboard started")]
    tail += [
        f"{_clock(alert.ts_ms)} {'' if alert.active else 'cleared '}{alert.kind} {alert.dev}: {alert.detail}"
        + (f" (x{alert.count})" if alert.count > 1 else "")
        for alert in reversed(alerts)
    ]
    room = max(0, height - len(tail) - 1)
    if len(lines) > room:
        lines = lines[: max(0, room - 1)] + [f"... {len(lines) - room + 1} more lines: enlarge the terminal"]
    lines += tail
    lines.append("q quits")
    return [line[:width] for line in lines[:height]]


def _header(board: Board, connection: str, now_ms: int) -> list[str]:
    status = board.status
    if status is None:
        return [f"store {board.store}  gateway: no status yet  |  broker: {connection}  |  {_clock(now_ms)}"]
    if status.state in ("offline", "stopped"):
        return [
            f"store {board.store}  gateway {status.state.upper()}  |  broker: {connection}  |  {_clock(now_ms)}",
            "the gateway is not running: what follows is as it last published it",
        ]
    rejected = sum(status.rejected.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(status.rejected.items()))
    return [
        f"store {board.store}  gateway {status.state} v{status.version} up {_age(status.uptime_s * 1000)}"
        f"  |  broker: {connection}  |  {_clock(now_ms)}",
        f"{status.rates.accepted_per_min} msg/min accepted, {status.rates.rejected_per_min} rejected"
        f"  backlog {status.backlog}  upstream {status.upstream}",
        f"devices {status.devices_online}/{status.devices_total} online  sessions {status.sessions_open} open"
        f"  review queue {status.review_queue}  rejected {rejected}" + (f" ({reasons})" if reasons else ""),
    ]


def _device(device: DeviceView, now_ms: int) -> str:
    seen = _age(now_ms - device.last_seen_ms) if device.last_seen_ms is not None else "-"
    health = device.health
    temp = f"{health.temp_c10 / 10:.1f}C" if health is not None and health.temp_c10 > -32768 else "-"
    return (
        f"{device.node:<14}{device.role:<8}{device.availability:<9}{seen:>6}{_or_dash(device.boot):>6}"
        f"{_or_dash(device.spool):>7}{temp:>8}  {', '.join(device.alerts)}"
    )


def _lane(shelf: str, lane: LaneView) -> str:
    weight = f"{lane.weight_mg / 1_000_000:.3f}kg" if lane.weight_mg is not None else "-"
    return f"{shelf:<14}{lane.lane:>4}  {lane.sku or '-':<14}{weight:>10}{_or_dash(lane.stock):>7}  " + ", ".join(
        lane.misplaced
    )


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _age(ms: int) -> str:
    s = max(0, ms) // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}"
    return f"{s // 3600}h{s % 3600 // 60:02d}"


def _clock(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S")
