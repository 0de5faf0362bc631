"""An RP2040 with MicroPython as mpremote meets it on USB serial: a pty at a stable path that
speaks the REPL (friendly, raw and soft reset) and runs what it is sent on the MicroPython
unix port, with the board's flash a directory.

A hard reset (`machine.reset()`, from hw/sim/micropython/machine.py) reboots the board: its
main.py, if it has one, then runs as on the board, on the same serial line, until a Ctrl-C
stops it and the REPL answers again. Raw-paste mode is declined (`R\\x00`), as a board whose
build lacks it does; mpremote then uses the plain raw REPL.
"""

import os
import select
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, Literal

from hw.sim.pty_port import PtyPort

MICROPYTHON_PATH = Path(__file__).resolve().parent / "micropython"
RESET_EXIT = 77  # machine.reset() in the simulated machine module
CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY = b'\r\nMicroPython (simulated rp2040) on the unix port\r\nType "help()" for more information.\r\n>>> '

Mode = Literal["friendly", "raw", "running", "firmware"]


class RawReplBoard:
    def __init__(self, link: Path, flash: Path, micropython: str, env: dict[str, str] | None = None) -> None:
        self.link = link
        self.flash = flash
        self._micropython = micropython
        self._env = {**os.environ, **(env or {}), "MICROPYPATH": str(MICROPYTHON_PATH)}
        self._port = PtyPort(link)
        self._lock = threading.RLock()
        self._mode: Mode = "friendly"
        self._code = bytearray()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.resets = 0

    def plug(self) -> Path:
        self.flash.mkdir(parents=True, exist_ok=True)
        self._port.plug()
        self._stopping.clear()
        self._boot()
        self._thread = threading.Thread(target=self._serve, name="raw-repl-board", daemon=True)
        self._thread.start()
        return self.link

    def unplug(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            assert not self._thread.is_alive(), "the board's serial thread did not stop"
        with self._lock:
            self._kill()
        self._port.unplug()

    # -- the board's life -------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._port.master >= 0:
                os.write(self._port.master, data)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _start(self, script: Path, mode: Mode) -> None:
        process = subprocess.Popen(
            [self._micropython, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.flash,
            env=self._env,
        )
        self._process, self._mode = process, mode
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process, process.stdout), daemon=True).start()

    def _boot(self) -> None:
        """Power-on or hard reset: main.py runs if the flash has one, else the REPL waits."""
        self._kill()
        if (self.flash / "main.py").exists():
            self._start(self.flash / "main.py", "firmware")
        else:
            self._mode = "friendly"
            self._write(FRIENDLY)

    def _soft_reset(self, raw: bool) -> None:
        self._kill()
        self._write(b"MPY: soft reboot\r\n")
        if raw:
            self._start(MICROPYTHON_PATH / "raw_repl.py", "raw")
            self._write(RAW_BANNER)
        else:
            self._boot()

    def _pump(self, process: subprocess.Popen[bytes], stdout: IO[bytes]) -> None:
        """The unix port's output onto the serial line; in the raw REPL, a prompt after each block."""
        marks = 0
        while byte := stdout.read1(4096):  # type: ignore[attr-defined]
            with self._lock:
                if process is not self._process:
                    return
                self._write(byte)
                if self._mode == "running":
                    marks += byte.count(CTRL_D)
                    if marks >= 2:
                        marks = 0
                        self._mode = "raw"
                        self._write(b">")
        status = process.wait()
        with self._lock:
            if process is not self._process or self._stopping.is_set():
                return
            self._process = None
            if status == RESET_EXIT:
                self.resets += 1
                self._boot()
            else:
                self._write(f"\r\nthe unix port stopped ({status})\r\n".encode())
                self._boot()

    # -- the serial line --------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._port.master], [], [], 0.1)
            if not readable:
                continue
            try:
                data = os.read(self._port.master, 4096)
            except OSError:
                return
            for value in data:
                with self._lock:
                    self._byte(bytes([value]))

    def _byte(self, byte: bytes) -> None:
        if self._mode == "firmware":
            if byte == CTRL_C:
                self._kill()
                self._mode = "friendly"
                self._write(b"\r\nKeyboardInterrupt: \r\n" + FRIENDLY)
            elif self._process is not None and self._process.stdin is not None:
                self._feed(self._process, byte)
        elif self._mode == "friendly":
            if byte == CTRL_A:
                self._enter_raw()
            elif byte == CTRL_D:
                self._soft_reset(raw=False)
            elif byte in (CTRL_C, b"\r"):
                self._write(b"\r\n>>> ")
        elif self._mode == "running":
            if byte == CTRL_C and self._process is not None:
                self._process.send_signal(signal.SIGINT)
        else:
            self._raw_byte(byte)

    def _feed(self, process: subprocess.Popen[bytes], data: bytes) -> None:
        """A unix port that has just ended takes no input; its pump reboots the board."""
        assert process.stdin is not None
        try:
            process.stdin.write(data)
            process.stdin.flush()
        except OSError:
            return

    def _enter_raw(self) -> None:
        self._code.clear()
        if self._process is None:
            self._start(MICROPYTHON_PATH / "raw_repl.py", "raw")
        self._mode = "raw"
        self._write(b"\r\n" + RAW_BANNER)

    def _raw_byte(self, byte: bytes) -> None:
        if byte == CTRL_A:
            if bytes(self._code) == CTRL_E + b"A":
                self._code.clear()
                self._write(b"R\x00")
            else:
                self._enter_raw()
        elif byte == CTRL_B:
            self._code.clear()
            self._kill()
            self._mode = "friendly"
            self._write(FRIENDLY)
        elif byte == CTRL_C:
            self._code.clear()
        elif byte == CTRL_D:
            self._write(b"OK")
            if not self._code:
                self._write(b"\r\n")
                self._soft_reset(raw=True)
                return
            code, self._code = bytes(self._code), bytearray()
            process = self._process
            assert process is not None and process.stdin is not None
            self._mode = "running"
            self._feed(process, f"{len(code)}\n".encode() + code)
        else:
            self._code += byte
