"""Write the OpenAPI document: ``python -m viewers.http.openapi [docs/openapi.json]``.

``docs/openapi.json`` is committed; a test regenerates it and fails when the two differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def render() -> str:
    from viewers.http.app import openapi_document

    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else DEFAULT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
