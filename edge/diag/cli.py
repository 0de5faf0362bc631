"""storediag: a node's diagnostics console, or a shelf board, over a serial port.

  storediag --port /dev/ttyUSB0                  an interactive shell (history, completion)
  storediag --port /dev/ttyUSB0 status           one command, then exit
  storediag --port /dev/ttyUSB0 watch [read]     a live readout, until Ctrl-C

Commands that change the node ask for its service PIN (from STOREDIAG_PIN, or typed
without echo), and a one-shot command leaves service mode again when it is done.
Exit status: 0 done, 1 refused by the node, 2 usage or port trouble, 3 nothing answered.
"""

import argparse
import contextlib
import getpass
import math
import os
import sys

from edge.diag.link import NoAnswer, Refused
from edge.diag.render import render
from edge.diag.shell import Shell
from edge.diag.target import Connection, PortError, PortLost
from edge.diag.watch import watch
from edge.protocol.diag import ErrorCode, Record

NOTHING_ANSWERS = (
    "nothing answered on {port} in {tries} tries over {waited:.1f} s ({timeout:g} s of silence each). Check the "
    "wiring (the node's TX to the adapter's RX, RX to TX, GND to GND), the baud rate ({baud}), and that the node "
    "runs with a [console] port in its node.toml."
)


class NeedsPin(Exception):
    """Service mode is needed and no PIN can be had."""


def service_pin() -> str:
    pin = os.environ.get("STOREDIAG_PIN")
    if pin:
        return pin
    if not sys.stdin.isatty():
        raise NeedsPin("this command needs service mode: set STOREDIAG_PIN, or run storediag in a terminal")
    return getpass.getpass("service PIN: ")


def run_serviced(target: Connection, words: list[str]) -> list[Record]:
    """Run a command; if it needs service mode, enter it for this command only."""
    try:
        return target.ask(words)
    except Refused as refused:
        if refused.code != ErrorCode.NEEDS_SERVICE:
            raise
    target.ask(["service", service_pin()])
    try:
        return target.ask(words)
    finally:
        # Best effort: a node that reboots, or a cable pulled, ends service mode by itself.
        with contextlib.suppress(NoAnswer, Refused, PortLost):
            target.ask(["service", "end"])


class BadOption(Exception):
    """An option no link or view can have, refused before the port is opened."""


def check_link(baud: int, timeout: float) -> None:
    if baud <= 0:
        raise BadOption(f"--baud {baud}: a baud rate is a positive number of bits per second (the console's is 115200)")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise BadOption(f"--timeout {timeout:g}: seconds of silence that mean no answer, more than 0")


def check_watch(every: float, count: int | None) -> None:
    if not (every > 0 and math.isfinite(every)):
        raise BadOption(f"--every {every:g}: seconds between readings, more than 0")
    if count is not None and count < 1:
        raise BadOption(f"--count {count}: how many readings, at least 1")


def _watch_args(words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="storediag watch", description="a live readout of one command")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between readings (0.5)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many (default: Ctrl-C)")
    parser.add_argument("command", nargs="*", default=["read"], help="the command to watch (read)")
    return parser.parse_args(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storediag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", required=True, help="the serial port: /dev/ttyUSB0, /dev/serial/by-id/...")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds of silence that end one of a request's 3 tries (3)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="a console command; none: the shell")
    args = parser.parse_args(argv)
    options = _watch_args(args.command[1:]) if args.command[:1] == ["watch"] else None
    try:
        check_link(args.baud, args.timeout)
        if options is not None:
            check_watch(options.every, options.count)
        target = Connection(args.port, args.baud, args.timeout)
        if not args.command:
            Shell(target, args.port).cmdloop()
        elif options is not None:
            watch(target, options.command, options.every, options.count, args.port)
        else:
            print("\n".join(render(run_serviced(target, args.command))))
        return 0
    except KeyboardInterrupt:
        return 0
    except (BadOption, PortError, NeedsPin) as error:
        print(f"storediag: {error}", file=sys.stderr)
        return 2
    except Refused as refused:
        print(f"storediag: {refused.code}: {refused.text}", file=sys.stderr)
        return 1
    except NoAnswer as error:
        if str(error) == "no answer":
            text = NOTHING_ANSWERS.format(
                port=args.port, tries=error.tries, waited=error.waited_s, timeout=args.timeout, baud=args.baud
            )
            print(f"storediag: {text}", file=sys.stderr)
        else:
            print(f"storediag: no usable answer on {args.port}: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
