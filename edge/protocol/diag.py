"""The diagnostics console's line protocol, between a node and the technician's `storediag`.
Pure. The full description is docs/protocol.md, section "Diagnostics console".

A request is one ASCII line of at most MAX_REQUEST bytes:

    [@<tag> ]<command> [<argument> ...][*<crc32>]

`storediag` sends a fresh tag and a checksum with every request, and a tagged request
without one is refused; a person typing in a terminal leaves both out. A node never runs
a request whose checksum fails, and runs a tagged request at most once: the same tag and
line again (a retry after a lost answer) gets the first answer again.

The answer is one or more checked lines (edge/protocol/lines.py), each led by the tag
(`@` alone for an untagged request): data lines, then exactly one final line.

    @<tag> - <key>=<value> ...      a record; a value with spaces is quoted as a shell would
    @<tag> OK                       done
    @<tag> ERR <code> <text>        refused or failed (ErrorCode)

Values follow the wire rule of integers with their unit in the key (`_mg`, `_ms`, `_pm`,
`_c10`), or plain words.
"""

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from edge.protocol.lines import checked_body, seal_line

MAX_REQUEST = 200
MAX_REPLY = 1024
_TAG = re.compile(r"@[0-9a-z]{1,8}")
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_PRINTABLE = re.compile(r"[^\x20-\x7e]")

Record = dict[str, str | int]


class ErrorCode(StrEnum):
    BAD_LINE = "bad_line"  # not printable ASCII, or a malformed tag
    BAD_CRC = "bad_crc"  # the request's checksum failed; it was not run
    LINE_TOO_LONG = "line_too_long"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    NEEDS_SERVICE = "needs_service"  # the command changes something: service mode first
    WRONG_PIN = "wrong_pin"
    LOCKED_OUT = "locked_out"  # too many wrong PINs; try again later
    UNAVAILABLE = "unavailable"  # this node's hardware or role cannot do it (now)
    FAILED = "failed"  # it ran and did not succeed; nothing was changed


class DiagError(Exception):
    """A request refused or failed, answered as `ERR <code> <text>`."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class Request:
    tag: str  # "@" for an untagged request
    words: tuple[str, ...]

    @property
    def line(self) -> str:
        return " ".join(self.words)


def parse_request(line: bytes) -> Request:
    """A request line (without its newline). Raises DiagError, to be answered under
    `tag_of(line)`."""
    if _PRINTABLE.search(line.decode("latin-1")):
        raise DiagError(ErrorCode.BAD_LINE, "requests are printable ASCII")
    text = line.decode("ascii")
    if "*" in text:
        body = checked_body(line)
        if body is None:
            raise DiagError(ErrorCode.BAD_CRC, "the line's checksum does not match; it was not run")
        text = body.decode("ascii")
    words = text.split()
    tag = "@"
    if words and words[0].startswith("@"):
        if not _TAG.fullmatch(words[0]):
            raise DiagError(ErrorCode.BAD_LINE, f"a tag is @ and 1 to 8 of 0-9 a-z, not {words[0]!r}")
        if "*" not in line.decode("ascii"):  # noise may have turned the `*` into something else
            raise DiagError(ErrorCode.BAD_CRC, "a tagged request carries its checksum; it was not run")
        tag, words = words[0], words[1:]
    return Request(tag, tuple(words))


def tag_of(line: bytes) -> str:
    """The tag a refused line seems to carry, to answer it under; `@` if none can be read."""
    first = line.split(b" ", 1)[0].decode("ascii", errors="replace")
    return first if _TAG.fullmatch(first) else "@"


def encode_request(tag: str, words: list[str]) -> bytes:
    if not _TAG.fullmatch(tag):
        raise ValueError(f"bad tag {tag!r}")
    body = " ".join([tag, *words]).encode("ascii")
    if len(body) + 10 > MAX_REQUEST:
        raise ValueError(f"a request is at most {MAX_REQUEST} bytes")
    return seal_line(body)


def encode_record(record: Record) -> str:
    fields = []
    for key, value in record.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"bad record key {key!r}")
        fields.append(f"{key}={shlex.quote(_PRINTABLE.sub('?', str(value)))}")
    return " ".join(fields)


def decode_record(text: str) -> Record:
    record: Record = {}
    for field in shlex.split(text):
        key, equals, value = field.partition("=")
        if not equals or not _KEY.fullmatch(key):
            raise ValueError(f"not a key=value field: {field!r}")
        record[key] = value
    return record


def data_line(tag: str, record: Record) -> bytes:
    return _sealed(f"{tag} - {encode_record(record)}")


def ok_line(tag: str) -> bytes:
    return _sealed(f"{tag} OK")


def err_line(tag: str, code: ErrorCode, text: str) -> bytes:
    return _sealed(f"{tag} ERR {code} {_PRINTABLE.sub('?', text)}")


def _sealed(text: str) -> bytes:
    line = seal_line(text.encode("ascii"))
    if len(line) > MAX_REPLY:
        raise ValueError(f"an answer line is at most {MAX_REPLY} bytes")
    return line


@dataclass(frozen=True, slots=True)
class Reply:
    tag: str
    kind: Literal["data", "ok", "err"]
    record: Record | None = None
    code: str = ""
    text: str = ""


def parse_reply(line: bytes) -> Reply | None:
    """An answer line (without its newline), or None if it does not check out."""
    body = checked_body(line)
    if body is None:
        return None
    try:
        tag, kind, rest = (body.decode("ascii").split(" ", 2) + ["", ""])[:3]
        if not (tag == "@" or _TAG.fullmatch(tag)):
            return None
        if kind == "-":
            return Reply(tag, "data", decode_record(rest))
        if kind == "OK" and not rest:
            return Reply(tag, "ok")
        if kind == "ERR" and rest:
            code, _, text = rest.partition(" ")
            return Reply(tag, "err", code=code, text=text)
    except (UnicodeDecodeError, ValueError):
        return None
    return None
