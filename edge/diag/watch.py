"""storediag's live readout: one command's answer redrawn in place on a terminal, or
appended with a time header when the output is a file or a pipe. A port pulled out
meanwhile is waited for, and the readout goes on once it is back."""

import sys
import time

from edge.diag.link import NoAnswer
from edge.diag.render import render
from edge.diag.target import Connection, PortLost


def watch(target: Connection, words: list[str], every_s: float, count: int | None, port: str) -> None:
    """Redraw `words`' answer every `every_s` until Ctrl-C (or `count` times)."""
    screen = sys.stdout.isatty()
    shown = 0
    while count is None or shown < count:
        started = time.monotonic()
        lost = False
        try:
            body = render(target.ask(words))
            state = ""
        except NoAnswer as error:
            body, state = [], f"  [no answer: {error}; still trying]"
        except PortLost as error:
            body, state, lost = [], f"  [{error}: waiting for it to come back]", True
        header = f"{port}  {' '.join(words)}  every {every_s:g} s  {time.strftime('%H:%M:%S')}{state}"
        if screen:
            sys.stdout.write("\x1b[H\x1b[2J" + header + "  (Ctrl-C stops)\n\n" + "\n".join(body) + "\n")
        else:
            sys.stdout.write(header + "\n" + "\n".join(body) + "\n\n")
        sys.stdout.flush()
        shown += 1
        if count is not None and shown >= count:
            return
        if lost:
            target.wait_back()
        else:
            time.sleep(max(0.0, every_s - (time.monotonic() - started)))
