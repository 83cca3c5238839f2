"""Property: any mutation of a valid config file either loads or fails with ConfigError whose every line
names the file (and the line where one applies) — never a traceback, never another exception. Mutations
are what people and tools do to YAML: lines lost or doubled, values replaced with odd scalars, YAML syntax
(anchors, tags, flow brackets), indentation shifted, unknown keys, environment references that do not
resolve."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharpeyes.settings import ConfigError, Settings, parse_settings

FILE = "site.yaml"
ENV = {"HOOK_SECRET": "whsec_c2VjcmV0", "API_TOKEN": "t0ken", "MQTT_PW": "pw", "CAM_PW": "campw"}
VALID = """\
storage:
  url: "sqlite:///var/x.db"
  dedup_window_s: 86400
mqtt:
  host: 127.0.0.1
  port: 1883
  embedded: false
  username: sharpeyes
  password_env: MQTT_PW
  tls: {enabled: false, ca_file: null}
  prefix: sharpeyes
http: {host: 127.0.0.1, port: 8080}
grids:
  - id: G-001
    name: 网格一
    community: C-1
    street: S-1
    polygon: [[0, 0], [100, 0], [100, 80]]
  - {id: G-002, community: C-2, street: S-2}
buttons:
  - {id: B-001, grid: G-001, cameras: [CAM-01], location: {lat: 31.2, lon: 121.4}}
  - id: B-002
    grid: G-002
    heartbeat_timeout_s: 600
webhooks:
  - name: police
    url: "https://dispatch.example/hook"
    secret_env: HOOK_SECRET
    events: [incident.created, incident.updated]
    retry: {profile: auto, max_attempts: null}
    timeout_s: 5
auth:
  api_tokens:
    - {name: dispatch, token_env: API_TOKEN, role: operator, streets: [S-2]}
  sessions: {ttl_s: 43200, max_failures: 5}
sla:
  default: {acknowledge_s: 900, close_s: 86400}
  categories: {sos: {acknowledge_s: 60, close_s: 1800}}
presence: {heartbeat_timeout_s: 600, check_every_s: 5}
cameras:
  - id: CAM-01
    url: "rtsp://viewer:${CAM_PW}@camera-01.example/stream1"
    grid: G-001
    detect_fps: 5
    zones: [{name: crossing, polygon: [[0, 100], [640, 100], [640, 360], [0, 360]]}]
    rules:
      - {kind: fire}
      - {kind: crowd, zone: crossing, threshold: 12, dwell_s: 3}
"""
ODD = [
    "",
    "~",
    "null",
    "-1",
    "0",
    "1e999",
    "-0.0",
    ".nan",
    "yes",
    "0x1F",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "[]",
    "{}",
    "a: b",
    "- x",
    "&anchor",
    "*anchor",
    "*nope",
    "!!python/object/apply:os.system ['true']",
    "!!binary aGk=",
    "${NOPE}",
    "${NOPE:-}",
    "${MQTT_PW}",
    "${",
    "%",
    "@",
    "`",
    "|",
    ">",
    "\t",
    "\\x00",
    "99999999999999999999999999",
    "网格",
    "G-009",
    "S-9",
    "CAM-99",
    "B-001",
    "admin",
    "root",
]
LINES = VALID.splitlines()
PROBLEM = re.compile(rf"^{re.escape(FILE)}(:\d+)? .+: .+$")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "value", "indent", "insert", "key", "chars"]))
        line = lines[i]
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "value" and ":" in line:
            head = line.split(":", 1)[0]
            lines[i] = f"{head}: {draw(st.sampled_from(ODD) | st.text(max_size=12))}"
        elif op == "indent":
            shift = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
            lines[i] = " " * max(0, len(line) - len(line.lstrip()) + shift) + line.lstrip()
        elif op == "insert":
            indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
            lines.insert(i, indent + draw(st.sampled_from(ODD) | st.text(max_size=20)))
        elif op == "key":
            indent = line[: len(line) - len(line.lstrip())]
            lines.insert(i, f"{indent}{draw(st.sampled_from(['colour', 'port', 'id', 'urls']))}: 1")
        elif op == "chars" and line:
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.text(min_size=1, max_size=3)) + line[at:]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def test_the_unmutated_config_is_valid() -> None:
    assert isinstance(parse_settings(VALID, FILE, ENV), Settings)


@given(text=mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_loads_or_gives_located_config_errors(text: str) -> None:
    try:
        result = parse_settings(text, FILE, ENV)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError lists at least one problem"
        rendered = str(exc).split("\n")
        assert len(rendered) == len(exc.problems), f"one line per problem: {rendered}"
        for problem, line in zip(exc.problems, rendered, strict=True):
            assert PROBLEM.match(line), line
            if problem.loc:  # a problem at a key is located at a line of the file
                assert problem.line is not None and 1 <= problem.line <= text.count("\n") + 1, line
    else:
        assert isinstance(result, Settings)


@given(text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
@settings(max_examples=200, deadline=None)
def test_arbitrary_text_never_raises_anything_but_config_error(text: str) -> None:
    try:
        parse_settings(text, FILE, ENV)
    except ConfigError as exc:
        assert all(PROBLEM.match(line) for line in str(exc).split("\n")), str(exc)
