"""Config loading: the issue's example validates, unknown keys are refused, every problem is reported with
file, line and key path, environment variables are interpolated and checked."""

from __future__ import annotations

import textwrap

import pytest

from sharpeyes.settings import ConfigError, Settings, format_loc, load_settings, parse_settings

ISSUE_EXAMPLE = """\
storage: {url: "sqlite:///var/lib/sharpeyes/sharpeyes.db"}
mqtt: {host: 127.0.0.1, port: 1883, embedded: false}
http: {host: 127.0.0.1, port: 8080}
grids: [{id: G-001, name: 网格一, community: C-1, street: S-1}]
buttons: [{id: B-001, grid: G-001}]
webhooks: [{name: police, url: "https://dispatch.example/hook", secret_env: DISPATCH_WEBHOOK_SECRET}]
auth: {api_tokens: [{name: dispatch, token_env: DISPATCH_API_TOKEN, role: operator}]}
"""
ENV = {"DISPATCH_WEBHOOK_SECRET": "whsec_c2VjcmV0", "DISPATCH_API_TOKEN": "tok-1"}

# Line numbers matter here: buttons[2].grid is on line 14.
DEMO = """\
storage: {url: "sqlite:///var/x.db"}
mqtt: {host: 127.0.0.1, port: 1883, embedded: false}
http: {host: 127.0.0.1, port: 8080}
grids:
  - id: G-001
    community: C-1
    street: S-1
  - {id: G-002, community: C-1, street: S-2}
buttons:
  - id: B-001
    grid: G-001
  - {id: B-002, grid: G-002}
  - id: B-003
    grid: G-009
webhooks:
  - name: police
    url: "${DISPATCH_URL:-https://dispatch.example/hook}"
    secret_env: DISPATCH_WEBHOOK_SECRET
auth:
  api_tokens:
    - {name: dispatch, token_env: DISPATCH_API_TOKEN, role: operator, streets: [S-2]}
"""


def problems(text: str, env: dict[str, str] | None = None, filename: str = "demo.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, filename, ENV if env is None else env)
    lines = str(info.value).splitlines()
    assert lines == [p.render(filename) for p in info.value.problems]
    return lines


def test_issue_example_validates() -> None:
    s = parse_settings(ISSUE_EXAMPLE, "example.yaml", ENV)
    assert isinstance(s, Settings)
    assert s.storage.url == "sqlite:///var/lib/sharpeyes/sharpeyes.db"
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.embedded, s.mqtt.prefix) == (
        "127.0.0.1",
        1883,
        False,
        "sharpeyes",
    )
    assert (s.http.host, s.http.port) == ("127.0.0.1", 8080)
    assert [(g.id, g.name, g.community, g.street) for g in s.grids] == [("G-001", "网格一", "C-1", "S-1")]
    assert [(b.id, b.grid) for b in s.buttons] == [("B-001", "G-001")]
    [hook] = s.webhooks
    assert (hook.name, hook.url, hook.secret_env) == (
        "police",
        "https://dispatch.example/hook",
        "DISPATCH_WEBHOOK_SECRET",
    )
    assert hook.events == [
        "incident.created",
        "incident.updated",
        "incident.escalated",
        "incident.closed",
        "incident.merged",
    ]
    [token] = s.auth.api_tokens
    assert (token.name, token.token_env, token.role) == ("dispatch", "DISPATCH_API_TOKEN", "operator")


def test_empty_document_is_all_defaults() -> None:
    s = parse_settings("", "empty.yaml", {})
    assert s == Settings()
    assert s.mqtt.embedded is True and s.sla.for_category("sos").acknowledge_s == 60


def test_unknown_grid_with_line() -> None:
    assert problems(DEMO) == ["demo.yaml:14 buttons[2].grid: unknown grid 'G-009'"]
    assert DEMO.splitlines()[13].strip() == "grid: G-009"


def test_flow_style_line() -> None:
    text = DEMO.replace("{id: B-002, grid: G-002}", "{id: B-002, grid: G-404}")
    assert problems(text) == [
        "demo.yaml:12 buttons[1].grid: unknown grid 'G-404'",
        "demo.yaml:14 buttons[2].grid: unknown grid 'G-009'",
    ]


def _fix(text: str) -> str:
    return text.replace("G-009", "G-001")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # unknown keys, top level and nested
        ("http:", "colour: red\nhttp:", ["demo.yaml:3 colour: unknown key"]),
        ("embedded: false}", "embedded: false, hots: x}", ["demo.yaml:2 mqtt.hots: unknown key"]),
        (
            "    street: S-1\n",
            "    street: S-1\n    streeet: S-1\n",
            ["demo.yaml:8 grids[0].streeet: unknown key"],
        ),
        # field validation
        ("port: 1883", "port: 70000", ["demo.yaml:2 mqtt.port: Input should be less than or equal to 65535"]),
        (
            "role: operator",
            "role: god",
            ["demo.yaml:21 auth.api_tokens[0].role: Input should be 'operator', 'supervisor' or 'admin'"],
        ),
        ("    community: C-1\n", "", ["demo.yaml:5 grids[0].community: Field required"]),
        (
            "    secret_env: DISPATCH_WEBHOOK_SECRET\n",
            "    secret_env: DISPATCH_WEBHOOK_SECRET\n    events: [incident.exploded]\n",
            [
                "demo.yaml:16 webhooks[0]: unknown event types ['incident.exploded']; known: "
                "['incident.created', 'incident.updated', 'incident.escalated', 'incident.closed', "
                "'incident.merged']"
            ],
        ),
        (
            "street: S-2}",
            "street: S-2, polygon: [[0, 0], [1, 1]]}",
            ["demo.yaml:8 grids[1]: polygon needs at least 3 points"],
        ),
        # cross-section checks
        ("{id: B-002,", "{id: B-001,", ["demo.yaml:12 buttons[1].id: duplicate button id 'B-001'"]),
        (
            "{id: G-002,",
            "{id: G-001,",
            [
                "demo.yaml:8 grids[1].id: duplicate grid id 'G-001'",
                "demo.yaml:12 buttons[1].grid: unknown grid 'G-002'",
            ],
        ),
        (
            "streets: [S-2]",
            "streets: [S-9]",
            ["demo.yaml:21 auth.api_tokens[0].streets[0]: unknown street 'S-9'"],
        ),
        (
            "streets: [S-2]",
            "grids: [G-001, G-7]",
            ["demo.yaml:21 auth.api_tokens[0].grids[1]: unknown grid 'G-7'"],
        ),
        (
            "embedded: false}",
            "embedded: false, password_env: MQTT_PW}",
            ["demo.yaml:2 mqtt.password_env: environment variable MQTT_PW is not set"],
        ),
    ],
)
def test_problem_table(old: str, new: str, expected: list[str]) -> None:
    text = _fix(DEMO)
    assert old in text
    assert problems(text.replace(old, new, 1)) == expected


def test_sla_deadline_order() -> None:
    text = _fix(DEMO) + "sla:\n  categories:\n    sos: {acknowledge_s: 600, close_s: 60}\n"
    assert problems(text) == ["demo.yaml:24 sla.categories.sos: acknowledge_s must not exceed close_s"]


def test_duplicate_webhook_name() -> None:
    second = "  - {name: police, url: 'http://x.example/y', secret_env: DISPATCH_WEBHOOK_SECRET}\n"
    text = _fix(DEMO).replace("auth:\n", second + "auth:\n")
    assert problems(text) == ["demo.yaml:19 webhooks[1].name: duplicate webhook name 'police'"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            [
                "demo.yaml:18 webhooks[0].secret_env: "
                "environment variable DISPATCH_WEBHOOK_SECRET is not set",
                "demo.yaml:21 auth.api_tokens[0].token_env: "
                "environment variable DISPATCH_API_TOKEN is not set",
            ],
        ),
        (
            {"DISPATCH_API_TOKEN": "t"},
            ["demo.yaml:18 webhooks[0].secret_env: environment variable DISPATCH_WEBHOOK_SECRET is not set"],
        ),
        (
            {"DISPATCH_API_TOKEN": "t", "DISPATCH_WEBHOOK_SECRET": ""},  # set but empty is not a secret
            ["demo.yaml:18 webhooks[0].secret_env: environment variable DISPATCH_WEBHOOK_SECRET is not set"],
        ),
    ],
)
def test_missing_env_vars(env: dict[str, str], expected: list[str]) -> None:
    assert problems(_fix(DEMO), env=env) == expected


def test_all_problems_in_one_run_sorted_by_line() -> None:
    text = DEMO.replace("port: 1883", "port: 0").replace("{id: B-002, grid: G-002}", "{id: B-002, grid: 7}")
    assert problems(text + "extra_section: 1\n", env={}) == [
        "demo.yaml:2 mqtt.port: Input should be greater than or equal to 1",
        "demo.yaml:12 buttons[1].grid: Input should be a valid string",
        "demo.yaml:22 extra_section: unknown key",
    ]
    # cross-section checks (grids, secrets) all at once, once every section is valid on its own
    assert [line.split()[0] for line in problems(DEMO, env={})] == [
        "demo.yaml:14",
        "demo.yaml:18",
        "demo.yaml:21",
    ]


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("${DISPATCH_URL:-https://dispatch.example/hook}", {}, "https://dispatch.example/hook"),
        (
            "${DISPATCH_URL:-https://dispatch.example/hook}",
            {"DISPATCH_URL": "http://10.0.0.1/h"},
            "http://10.0.0.1/h",
        ),
        ("${DISPATCH_URL}", {"DISPATCH_URL": "https://a.example/x"}, "https://a.example/x"),
        (
            "${SCHEME:-https}://${HOST:-d.example}:${PORT:-8443}/hook",
            {"HOST": "h.example"},
            "https://h.example:8443/hook",
        ),
        ("https://plain.example/hook", {"DISPATCH_URL": "ignored"}, "https://plain.example/hook"),
        ("https://x.example/${EMPTY:-}", {}, "https://x.example/"),
        ("${DISPATCH_URL:-https://fallback.example/}", {"DISPATCH_URL": ""}, ""),
    ],
)
def test_interpolation(url: str, env: dict[str, str], expected: str) -> None:
    text = _fix(DEMO).replace('"${DISPATCH_URL:-https://dispatch.example/hook}"', f'"{url}"')
    full_env = {**ENV, **env}
    if expected == "":
        assert problems(text, env=full_env)[0].startswith("demo.yaml:17 webhooks[0].url: String should match")
        return
    assert parse_settings(text, "demo.yaml", full_env).webhooks[0].url == expected


def test_missing_variable_without_default() -> None:
    text = _fix(DEMO).replace('"${DISPATCH_URL:-https://dispatch.example/hook}"', '"${DISPATCH_URL}"')
    lines = problems(text)
    assert "demo.yaml:17 webhooks[0].url: environment variable DISPATCH_URL is not set" in lines


def test_interpolation_in_nested_lists_and_numbers_untouched() -> None:
    text = _fix(DEMO).replace("streets: [S-2]", 'streets: ["${STREET:-S-2}"]')
    s = parse_settings(text, "demo.yaml", ENV)
    assert s.auth.api_tokens[0].streets == ["S-2"]
    assert s.mqtt.port == 1883


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt: {host: [}\n", "demo.yaml:1 (root): invalid YAML: expected the node content, but found '}'"),
        ("grids:\n  - id: G-1\n   community: x\n", "demo.yaml:3 (root): invalid YAML: expected <block end>"),
        ("a: 1\na: [\n", "demo.yaml:3 (root): invalid YAML:"),
        ("- a\n- b\n", "demo.yaml:1 (root): the top level must be a mapping"),
        ("just a string\n", "demo.yaml:1 (root): the top level must be a mapping"),
    ],
)
def test_unreadable_documents(text: str, expected: str) -> None:
    [line] = problems(text)
    assert line.startswith(expected), line


def test_load_settings_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "site.yaml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")
    assert load_settings(path, ENV).grids[0].name == "网格一"
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "missing.yaml", ENV)
    assert str(info.value).startswith("missing.yaml (root): cannot read config")
    path.write_text(textwrap.dedent(DEMO), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, ENV)
    assert str(info.value) == "site.yaml:14 buttons[2].grid: unknown grid 'G-009'"


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), "(root)"),
        (("mqtt",), "mqtt"),
        (("mqtt", "port"), "mqtt.port"),
        (("buttons", 2, "grid"), "buttons[2].grid"),
        (("auth", "api_tokens", 0, "streets", 1), "auth.api_tokens[0].streets[1]"),
    ],
)
def test_format_loc(loc: tuple, text: str) -> None:  # type: ignore[type-arg]
    assert format_loc(loc) == text
