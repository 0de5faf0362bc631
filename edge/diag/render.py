"""Records as a technician reads them: records in, lines of text out.

Consecutive records with the same fields make a table; a record alone is a list of
`field  value` lines. Integers with a unit in their name are shown in that unit
(`mg` as grams, `c10` as degrees, `pm` as per cent) and the unit moves to the header;
`t_ms`, an instant, is shown as the local time of day.
"""

import time
from itertools import groupby

from edge.protocol.diag import Record

_UNITS = {"_mg": ("g", 1000, 3), "_c10": ("°C", 10, 1), "_pm": ("%", 10, 1)}


def _split(key: str) -> tuple[str, str, int, int]:
    for suffix, (unit, scale, places) in _UNITS.items():
        if key.endswith(suffix) or key == suffix[1:]:
            name = key[: -len(suffix)] if key.endswith(suffix) else key
            return name or unit, unit, scale, places
    return key, "", 1, 0


def _value(key: str, value: str | int) -> str:
    _, unit, scale, places = _split(key)
    text = str(value)
    if key == "t_ms" and text.isdigit():  # a wall-clock instant: the time of day, local
        seconds, ms = divmod(int(text), 1000)
        return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{ms:03d}"
    if scale == 1 or not text.lstrip("-").isdigit():
        return text
    return f"{int(text) / scale:.{places}f}"


def _header(key: str) -> str:
    name, unit, _, _ = _split(key)
    return f"{name} ({unit})" if unit and name != unit else name


def _fields(record: Record) -> tuple[str, ...]:
    return tuple(record)


def render(records: list[Record]) -> list[str]:
    lines: list[str] = []
    for _, group in groupby(records, key=_fields):
        block = list(group)
        if lines:
            lines.append("")
        lines += _table(block) if len(block) > 1 else _listing(block[0])
    return lines


def _listing(record: Record) -> list[str]:
    width = max((len(_header(key)) for key in record), default=0)
    return [f"{_header(key):<{width}}  {_value(key, value)}" for key, value in record.items()]


def _table(records: list[Record]) -> list[str]:
    keys = list(records[0])
    cells = [[_value(key, record[key]) for key in keys] for record in records]
    headers = [_header(key) for key in keys]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(keys))]
    numeric = [all(row[i].lstrip("-").replace(".", "", 1).isdigit() for row in cells) for i in range(len(keys))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]
