"""Write the published JSON Schemas of the incident contract (alarms/contracts.py) to docs/schemas/.

    .venv/bin/python scripts/export_schemas.py          # rewrite the files
    .venv/bin/python scripts/export_schemas.py --check  # exit 1 if a checked-in file is stale

tests/alarms/test_contracts.py fails while a checked-in file differs from its model, so run this after
changing the models and commit the result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a file, from anywhere

from alarms.contracts import published_schemas  # noqa: E402

OUT = REPO / "docs" / "schemas"


def render(schema: dict[str, Any]) -> str:
    """The file's text: stable (the models' field order), readable, one trailing newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in published_schemas().items():
        path = OUT / name
        text = render(schema)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(REPO)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
