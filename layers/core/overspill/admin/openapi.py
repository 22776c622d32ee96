"""``python -m overspill.admin.openapi [PATH]``: write the admin API's OpenAPI document (to stdout without a
path). docs/openapi.json is this output; tests/unit/test_admin_openapi.py fails when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from overspill.admin.api import build_resolver, openapi_document


def current_document() -> str:
    return openapi_document(build_resolver(cors_origin=None)) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    document = current_document()
    if args:
        Path(args[0]).write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
