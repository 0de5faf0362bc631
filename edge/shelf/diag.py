"""The shelf's console commands: `read` (live lanes), `tare`, `calibrate` (service mode),
and `board` (the RP2040 board's own commands, through the node that owns its port).

Tare and span take TARE_S of raw readings of a still lane and refuse a lane that moves
(edge/shelf/calibration.py); nothing changes then. A lane never calibrated is tared first
(its zero is kept in memory) and then spanned with a known test weight.
"""

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from edge.protocol.diag import DiagError, ErrorCode, Record
from edge.runtime.diag import DiagCommand, no_args
from edge.shelf.calibration import CalibrationError, LaneCalibration, span, tare
from edge.shelf.mcu_source import BoardTimeout, McuShelf

if TYPE_CHECKING:
    from edge.shelf.app import ShelfApp

TARE_S = 2
MAX_TEST_G = 100_000
BOARD_COMMANDS = ("id", "channels", "selftest")  # `rate` is the node's own to set


def _lanes(app: "ShelfApp", word: str) -> list[int]:
    if word == "all":
        return list(app.shelf.lanes)
    if word.isdigit() and int(word) in app.shelf.lanes:
        return [int(word)]
    raise DiagError(ErrorCode.BAD_ARGS, f"no lane {word!r} on this shelf (lanes {app.shelf.lanes}, or all)")


def _grams_to_mg(word: str) -> int:
    try:
        grams = Decimal(word)
    except InvalidOperation:
        raise DiagError(ErrorCode.BAD_ARGS, f"GRAMS is the test weight in grams, not {word!r}") from None
    if not grams.is_finite() or not (0 < grams <= MAX_TEST_G) or grams * 1000 != int(grams * 1000):
        raise DiagError(ErrorCode.BAD_ARGS, f"the test weight is over 0 and up to {MAX_TEST_G} g, to the milligram")
    return int(grams * 1000)


def shelf_commands(app: "ShelfApp") -> list[DiagCommand]:
    rate = app.shelf.rate_sps

    def collect(lanes: list[int]) -> dict[int, list[int]]:
        return app.desk.collect(lanes, TARE_S * rate, timeout_s=TARE_S + 3)

    def read(args: list[str]) -> list[Record]:
        no_args(args, "read")
        lanes = app.desk.lanes()
        if not lanes:
            raise DiagError(ErrorCode.UNAVAILABLE, "no reading yet; the shelf is starting")
        return [
            {
                "lane": view.lane,
                "raw": "-" if view.raw is None else view.raw,
                "weight_mg": "-" if view.weight_mg is None else view.weight_mg,
                "state": view.state,
                "drift_mg": view.drift_mg,
            }
            for view in lanes
        ]

    def tare_lanes(args: list[str]) -> Iterator[Record]:
        if len(args) > 1:
            raise DiagError(ErrorCode.BAD_ARGS, "usage: tare [LANE | all]")
        lanes = _lanes(app, args[0] if args else "all")
        yield {"collecting_s": TARE_S, "lanes": ",".join(map(str, lanes)), "keep": "the lanes empty and still"}
        readings = collect(lanes)
        tared: dict[int, LaneCalibration] = {}
        offsets: dict[int, int] = {}
        try:
            for lane in lanes:
                current = app.calibration.get(lane)
                if current is None:
                    offsets[lane] = tare(LaneCalibration(offset=0, counts_per_g=1.0), readings[lane]).offset
                else:
                    tared[lane] = tare(current, readings[lane])
        except CalibrationError as error:
            raise DiagError(ErrorCode.FAILED, f"lane {lane}: {error}; nothing was changed") from None
        # How far each zero had moved, by the calibration it replaces.
        moved = {lane: app.calibration[lane].weight_mg(new.offset) for lane, new in tared.items()}
        app.desk.call(lambda: app.calibrate(tared, offsets, "tared"), timeout_s=5)
        for lane in lanes:
            if lane in tared:
                yield {"lane": lane, "offset": tared[lane].offset, "zeroed": "yes", "moved_mg": moved[lane]}
            else:
                yield {"lane": lane, "offset": offsets[lane], "zeroed": "yes", "next": f"calibrate {lane} GRAMS"}

    def calibrate(args: list[str]) -> Iterator[Record]:
        if len(args) != 2:
            raise DiagError(ErrorCode.BAD_ARGS, "usage: calibrate LANE GRAMS (the test weight on the tared lane)")
        (lane,), known_mg = _lanes(app, args[0]), _grams_to_mg(args[1])
        current = app.calibration.get(lane)
        if current is None and lane not in app.pending_offsets:
            raise DiagError(ErrorCode.FAILED, f"lane {lane} has no zero yet: empty it and `tare {lane}` first")
        base = current or LaneCalibration(offset=app.pending_offsets[lane], counts_per_g=1.0)
        yield {"collecting_s": TARE_S, "lanes": lane, "keep": f"{known_mg} mg on the lane, still"}
        readings = collect([lane])[lane]
        try:
            new = span(base, readings, known_mg, app.node.now())
        except CalibrationError as error:
            raise DiagError(ErrorCode.FAILED, f"lane {lane}: {error}; nothing was changed") from None
        app.desk.call(lambda: app.calibrate({lane: new}, {}, "calibrated"), timeout_s=5)
        middle = sorted(readings)[len(readings) // 2]
        yield {
            "lane": lane,
            "counts_per_kg": round(new.counts_per_g * 1000),
            "offset": new.offset,
            "known_mg": known_mg,
            "reads_mg": new.weight_mg(middle),
        }

    def board(args: list[str]) -> list[Record]:
        source = app.source
        if not isinstance(source, McuShelf):
            raise DiagError(ErrorCode.UNAVAILABLE, "this shelf has no board: its cells are read over GPIO or simulated")
        if not args:
            stats: Record = app.desk.call(lambda: dict(vars(source.stats)), timeout_s=5)
            return [{"port": app.node.config.hardware.port or "?", **stats}]
        if len(args) != 1 or args[0] not in BOARD_COMMANDS:
            raise DiagError(ErrorCode.BAD_ARGS, f"usage: board [{' | '.join(BOARD_COMMANDS)}]")

        def asked() -> str:
            try:
                return source.ask(args[0])
            except BoardTimeout as error:
                raise DiagError(ErrorCode.UNAVAILABLE, str(error)) from None

        return [{"board": args[0], "answer": app.desk.call(asked, timeout_s=5)}]

    return [
        DiagCommand("read", "", "each lane now: raw counts, weight, state, drift", read),
        DiagCommand("tare", "[LANE|all]", "zero empty lanes (2 s of still readings)", tare_lanes, changes=True),
        DiagCommand("calibrate", "LANE GRAMS", "span a tared lane with a test weight on it", calibrate, changes=True),
        DiagCommand("board", "[id|channels|selftest]", "the shelf board's link, or one of its commands", board),
    ]
