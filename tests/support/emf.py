"""EMF metric records out of captured stdout, even when another thread's output landed on the same line."""

from __future__ import annotations

import json

_START = '{"_aws"'


def emf_records(output: str) -> list[dict]:
    # print() writes a record and its newline separately: a log line from another thread can end up between
    # them, so records are found where they start rather than line by line.
    decoder = json.JSONDecoder()
    records, position = [], output.find(_START)
    while position != -1:
        record, end = decoder.raw_decode(output, position)
        records.append(record)
        position = output.find(_START, end)
    return records
