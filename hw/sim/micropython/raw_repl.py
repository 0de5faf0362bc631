"""The code runner behind hw/sim/raw_repl_board.py, on the MicroPython unix port (MicroPython
code): it reads `<length>\n<code>` blocks from stdin and runs each in one namespace, as the
raw REPL does between soft resets. After each block it writes the raw REPL's framing: the
output, EOF (0x04), any exception, EOF. A hard reset (machine.reset) ends the process.
"""

import sys

_namespace = {"__name__": "__main__"}


def _read(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve():
    stdin = sys.stdin.buffer
    out = sys.stdout
    while True:
        header = stdin.readline()
        if not header:
            return
        code = _read(stdin, int(header))
        if code is None:
            return
        try:
            exec(code.decode(), _namespace)
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - the REPL reports every error to the host
            out.write("\x04")
            sys.print_exception(error, out)
            out.write("\x04")
        else:
            out.write("\x04\x04")


serve()
