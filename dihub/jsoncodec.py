"""Reading JSON fast with the json module's results: response bodies and stored documents."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits in a row: maybe an integer beyond 64 bits, which orjson reads as a float
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def decode_json(text: str | bytes) -> Any:
    """JSON text as the json module reads it, several times faster: orjson, or json for what
    orjson refuses (NaN, a lone surrogate, a UTF-16 body) or reads otherwise (an integer
    beyond 64 bits, which it makes a float). ValueError when neither reads it; TypeError
    for what is not text."""
    long_digits = _LONG_DIGITS_BYTES if isinstance(text, bytes | bytearray) else _LONG_DIGITS
    try:
        if long_digits.search(text) is None:
            return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    return json.loads(text)
