"""A node's diagnostics console as storediag reaches it: tagged, checked requests out,
answers in, with retries that the node's at-most-once rule makes safe (the same tag is
never run twice, only answered again).

Before each request a bare newline is sent: it ends whatever partial line noise left in
the node's buffer, which the node then answers under another tag (ignored here). A node
remembers only its last tagged request, so retries are safe while one storediag at a time
talks to it.
"""

import secrets
import time
from dataclasses import dataclass

import serial

from edge.protocol.diag import MAX_REPLY, ErrorCode, Record, encode_request, parse_reply
from edge.protocol.lines import LineBuffer

ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # ok | err
    code: str
    text: str
    records: list[Record]


class NoAnswer(Exception):
    """Nothing (or nothing readable) came back, after `tries` requests over `waited_s`."""

    def __init__(self, why: str, tries: int = 1, waited_s: float = 0.0) -> None:
        super().__init__(why)
        self.tries = tries
        self.waited_s = waited_s


class Refused(Exception):
    """The node answered ERR."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class ConsoleLink:
    kind = "node"

    def __init__(self, port: serial.Serial, timeout_s: float) -> None:
        self.port = port
        self.timeout_s = timeout_s  # the longest silence within an answer
        self.garbled = 0
        self._lines = LineBuffer(MAX_REPLY)
        self._session = secrets.randbelow(0x10000)
        self._count = 0

    def _tag(self) -> str:
        """Fresh for every command; a random half, so another storediag's tags differ."""
        self._count = (self._count + 1) % 0x10000
        return f"@{self._session:04x}{self._count:04x}"

    def ask(self, words: list[str]) -> list[Record]:
        """Run one command and return its records; Refused on ERR, NoAnswer after ATTEMPTS."""
        tag = self._tag()
        request = b"\n" + encode_request(tag, words)
        why = "no answer"
        started = time.monotonic()
        for _ in range(ATTEMPTS):
            self.port.write(request)
            self.port.flush()
            answer = self._answer(tag)
            if isinstance(answer, str):
                why = answer
                continue
            if answer.kind == "err" and answer.code == ErrorCode.BAD_CRC:
                why = "the line garbled our request"
                continue
            if answer.kind == "err":
                raise Refused(answer.code, answer.text)
            return answer.records
        raise NoAnswer(why, ATTEMPTS, time.monotonic() - started)

    def _answer(self, tag: str) -> "Answer | str":
        """Our tag's whole answer, or why there is none; an answer with a garbled line in it
        is no answer (it is asked again, and the node repeats it whole)."""
        records: list[Record] = []
        garbled = False
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            data = self.port.read(max(1, self.port.in_waiting))
            for line in self._lines.feed(data):
                reply = parse_reply(line)
                if reply is None:
                    self.garbled += 1
                    garbled = True
                    continue
                if reply.tag != tag:
                    continue
                deadline = time.monotonic() + self.timeout_s
                if reply.kind == "data" and reply.record is not None:
                    records.append(reply.record)
                elif garbled:
                    return "the line garbled the answer"
                else:
                    return Answer(reply.kind, reply.code, reply.text, records)
        return "the line garbled the answer" if garbled else "no answer"
