"""Known-vulnerability audit of the installed dependencies (pip-audit), that never passes silently.

pip-audit asks an online vulnerability database (PyPI's JSON API or OSV). Without it, pip-audit prints "No
known vulnerabilities found" and exits 0 while auditing nothing: every package is reported "not found on
PyPI" instead. So first a canary: a release with published advisories must be flagged; if it is not, the
database is out of reach and this script says so loudly. Exit status:
  0  audited, nothing known-vulnerable          1  known-vulnerable dependencies (listed)
  3  could not audit (no database): fatal only with SHARPEYES_REQUIRE_AUDIT=1, else a loud warning
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CANARY = "urllib3==1.26.0"  # many published advisories (e.g. CVE-2021-33503): must always be flagged
PIP_AUDIT = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--timeout", "15", "-f", "json"]


def run(args: list[str]) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run([*PIP_AUDIT, *args], capture_output=True, text=True, timeout=600)
    try:
        return json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]}


def canary_flagged() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "canary.txt"
        req.write_text(CANARY + "\n")
        report = run(["-r", str(req), "--no-deps", "--disable-pip"])
    deps = report.get("dependencies", [])
    return any(d.get("vulns") for d in deps)


def main() -> int:
    strict = os.environ.get("SHARPEYES_REQUIRE_AUDIT") == "1"
    if not canary_flagged():
        print(
            "== pip-audit: NOT AUDITED — the vulnerability database cannot be reached (the canary "
            f"{CANARY}, which has published advisories, was not flagged). Dependencies were NOT checked "
            "for known vulnerabilities. Run scripts/audit.py where PyPI's JSON API or OSV is reachable.",
            file=sys.stderr,
        )
        return 3 if strict else 0
    report = run(["-l", "--skip-editable"])
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for d in vulnerable:
        ids = ", ".join(
            v["id"] + (f" (fix: {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
            for v in d["vulns"]
        )
        print(f"== pip-audit: {d['name']} {d.get('version')}: {ids}", file=sys.stderr)
    for d in skipped:  # local-only wheels are not on PyPI: shown, so nobody believes they were checked
        print(f"== pip-audit: not audited: {d['name']}: {d['skip_reason']}", file=sys.stderr)
    audited = len(deps) - len(skipped)
    print(f"== pip-audit: {audited} dependencies audited, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
