"""The whole config tree, its loader and the checks that need more than one section."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from alarms.config import AreaName, GridConfig, SlaConfig, StorageConfig, WebhookConfig
from alarms.delivery.sender_config import DeliverySenderConfig
from alarms.field_config import FieldConfig, PersonConfig, UnitConfig
from alarms.locale import LocaleConfig
from alarms.silence_config import SilenceConfig
from dashboard.config import AuthConfig, HttpConfig, LiveVideoConfig
from dashboard.map_config import MapConfig
from detectors.config import DetectorConfig
from ingest.config import ButtonConfig, MqttConfig, PresenceConfig, Strict
from jetstream.config import DistributedConfig
from sharpeyes.yaml_lines import Loc, line_of, load_with_lines
from video.clip_config import ClipsConfig
from video.config import CameraConfig, VideoConfig, video_problems

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Settings(Strict):
    storage: StorageConfig = StorageConfig()
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    grids: list[GridConfig] = Field(default_factory=list)
    communities: list[AreaName] = Field(default_factory=list, description="names of the grids' communities")
    streets: list[AreaName] = Field(default_factory=list, description="names of the grids' streets")
    locale: LocaleConfig = LocaleConfig()
    map: MapConfig = MapConfig()
    buttons: list[ButtonConfig] = Field(default_factory=list)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    delivery: DeliverySenderConfig = DeliverySenderConfig()
    auth: AuthConfig = AuthConfig()
    sla: SlaConfig = SlaConfig()
    people: list[PersonConfig] = Field(default_factory=list, description="field workers (issue 15)")
    units: list[UnitConfig] = Field(default_factory=list, description="police, fire and other units")
    field: FieldConfig = FieldConfig()
    silences: SilenceConfig = SilenceConfig()
    presence: PresenceConfig = PresenceConfig()
    cameras: list[CameraConfig] = Field(default_factory=list)
    detectors: dict[str, DetectorConfig] = Field(default_factory=dict)
    video: VideoConfig = VideoConfig()
    live_video: LiveVideoConfig = LiveVideoConfig()
    clips: ClipsConfig = ClipsConfig()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # local: every part in one process (the default); ray: cameras on Ray shards, observations via JetStream
    runtime: Literal["local", "ray"] = "local"
    distributed: DistributedConfig = DistributedConfig()
    # Strings of the file that named environment variables, as written, by location (parse_settings fills
    # it): what a process may pass on where the expanded secret must not go (Ray actor arguments).
    _env_templates: dict[Loc, str] = PrivateAttr(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    loc: Loc
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where} {format_loc(self.loc)}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, so one run of check-config shows them all."""

    def __init__(self, filename: str, problems: list[ConfigProblem]) -> None:
        self.filename = filename
        self.problems = problems
        super().__init__("\n".join(p.render(filename) for p in problems))


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _interpolate(
    value: Any,
    loc: Loc,
    env: Mapping[str, str],
    problems: list[ConfigProblem],
    templates: dict[Loc, str] | None = None,
) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings; a missing variable is a problem, not an empty string.
    `templates` collects each such string as written."""
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), env, problems, templates) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, problems, templates) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        if templates is not None:
            templates[loc] = value

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(ConfigProblem(loc, f"environment variable {name} is not set"))
            return ""

        return _ENV_REF.sub(sub, value)
    return value


def _missing_env(loc: Loc, name: str | None, env: Mapping[str, str]) -> list[ConfigProblem]:
    """A secret named by `*_env` must be set in the environment."""
    if name and not env.get(name):
        return [ConfigProblem(loc, f"environment variable {name} is not set")]
    return []


def _grid_problems(settings: Settings) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for i, grid in enumerate(settings.grids):
        if grid.id in seen:
            problems.append(ConfigProblem(("grids", i, "id"), f"duplicate grid id {grid.id!r}"))
        seen.add(grid.id)
    for section, areas in (("communities", settings.communities), ("streets", settings.streets)):
        ids: set[str] = set()
        for i, area in enumerate(areas):  # one name per id: two would make the pages disagree
            if area.id in ids:
                problems.append(ConfigProblem((section, i, "id"), f"duplicate id {area.id!r}"))
            ids.add(area.id)
    return problems


def _button_problems(settings: Settings, grid_ids: set[str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    camera_ids = {c.id for c in settings.cameras}
    for i, button in enumerate(settings.buttons):
        if button.id in seen:
            problems.append(ConfigProblem(("buttons", i, "id"), f"duplicate button id {button.id!r}"))
        seen.add(button.id)
        if button.grid not in grid_ids:
            problems.append(ConfigProblem(("buttons", i, "grid"), f"unknown grid {button.grid!r}"))
        for j, camera_id in enumerate(button.cameras):  # linked video for the operator: must exist
            if camera_id not in camera_ids:
                problems.append(ConfigProblem(("buttons", i, "cameras", j), f"unknown camera {camera_id!r}"))
    return problems


def _webhook_problems(settings: Settings, env: Mapping[str, str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    names: set[str] = set()
    cap = settings.distributed.delivery.max_deliver
    for i, hook in enumerate(settings.webhooks):
        if hook.name in names:
            problems.append(ConfigProblem(("webhooks", i, "name"), f"duplicate webhook name {hook.name!r}"))
        names.add(hook.name)
        if settings.runtime == "ray" and hook.retry.max_attempts and hook.retry.max_attempts >= cap:
            problems.append(  # JetStream would stop redelivering before the policy dead-letters it
                ConfigProblem(
                    ("webhooks", i, "retry", "max_attempts"),
                    f"must be below distributed.delivery.max_deliver ({cap})",
                )
            )
        problems += _missing_env(("webhooks", i, "secret_env"), hook.secret_env, env)
    return problems


def _token_problems(settings: Settings, env: Mapping[str, str], grid_ids: set[str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    streets = {g.street for g in settings.grids}
    for i, token in enumerate(settings.auth.api_tokens):
        problems += _missing_env(("auth", "api_tokens", i, "token_env"), token.token_env, env)
        problems += [
            ConfigProblem(("auth", "api_tokens", i, "grids", j), f"unknown grid {grid_id!r}")
            for j, grid_id in enumerate(token.grids or [])
            if grid_id not in grid_ids
        ]
        problems += [
            ConfigProblem(("auth", "api_tokens", i, "streets", j), f"unknown street {street!r}")
            for j, street in enumerate(token.streets or [])
            if street not in streets
        ]
    return problems


def _field_problems(settings: Settings, grid_ids: set[str]) -> list[ConfigProblem]:
    """The roster (issue 15) names grids, units and the gateway webhook: each must exist, or dispatch would
    find nobody, or notices would go nowhere."""
    problems: list[ConfigProblem] = []
    unit_ids = {u.id for u in settings.units}
    seen: set[str] = set()
    groups: list[tuple[str, Sequence[PersonConfig | UnitConfig]]] = [
        ("people", settings.people),
        ("units", settings.units),
    ]
    for section, entries in groups:
        ids: set[str] = set()
        for i, entry in enumerate(entries):
            if entry.id in ids:
                problems.append(ConfigProblem((section, i, "id"), f"duplicate id {entry.id!r}"))
            ids.add(entry.id)
            problems += [
                ConfigProblem((section, i, "grids", j), f"unknown grid {grid_id!r}")
                for j, grid_id in enumerate(entry.grids)
                if grid_id not in grid_ids
            ]
    for i, person in enumerate(settings.people):
        if person.unit is not None and person.unit not in unit_ids:
            problems.append(ConfigProblem(("people", i, "unit"), f"unknown unit {person.unit!r}"))
        if person.username is not None and person.username in seen:
            problems.append(
                ConfigProblem(("people", i, "username"), f"duplicate username {person.username!r}")
            )
        if person.username is not None:
            seen.add(person.username)
    hooks = {h.name for h in settings.webhooks}
    if settings.field.gateway is not None and settings.field.gateway not in hooks:
        problems.append(
            ConfigProblem(
                ("field", "gateway"), f"unknown webhook {settings.field.gateway!r}; known: {sorted(hooks)}"
            )
        )
    return problems


def cross_check(settings: Settings, env: Mapping[str, str]) -> list[ConfigProblem]:
    """References between sections (grids, buttons, secrets) that a single model cannot check."""
    grid_ids = {g.id for g in settings.grids}
    problems = _grid_problems(settings)
    problems += _button_problems(settings, grid_ids)
    problems += _webhook_problems(settings, env)
    problems += _token_problems(settings, env, grid_ids)
    problems += _field_problems(settings, grid_ids)
    problems += _missing_env(("mqtt", "password_env"), settings.mqtt.password_env, env)
    video = video_problems(settings.cameras, settings.detectors, settings.video, grid_ids, env)
    problems.extend(ConfigProblem(loc, message) for loc, message in video)
    return problems


def parse_settings(text: str, filename: str = "<config>", env: Mapping[str, str] | None = None) -> Settings:
    """Validate a YAML document completely; raise ConfigError listing every problem with its line."""
    env = os.environ if env is None else env
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")  # one line per problem
        raise ConfigError(filename, [ConfigProblem((), message, line)]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(filename, [ConfigProblem((), "the top level must be a mapping", 1)])
    problems: list[ConfigProblem] = []
    templates: dict[Loc, str] = {}
    data = _interpolate(data, (), env, problems, templates)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(ConfigProblem(loc, msg))
        settings = None
    if settings is not None:
        problems.extend(cross_check(settings, env))
    if problems:
        located = [ConfigProblem(p.loc, p.message, line_of(lines, p.loc)) for p in problems]
        raise ConfigError(filename, sorted(located, key=lambda p: (p.line or 0, format_loc(p.loc))))
    assert settings is not None
    settings._env_templates = templates
    return settings


def env_templates(settings: Settings) -> dict[Loc, str]:
    """The config's `${VAR}` strings as written, by location (empty for settings not parsed from a file)."""
    return dict(settings._env_templates)


def expand_env(value: Any, env: Mapping[str, str]) -> tuple[Any, list[str]]:
    """`${VAR}` expansion of a config fragment in another process (a Ray shard, from its node's environment):
    the expanded value and one message per missing variable (names only, never values)."""
    problems: list[ConfigProblem] = []
    out = _interpolate(value, (), env, problems)
    return out, [f"{format_loc(p.loc)}: {p.message}" for p in problems]


class SecretsNotNeeded(Mapping[str, str]):
    """The environment, except that secrets referenced by `*_env` count as set: tools such as `user` and
    `press` need the storage URL, grids or MQTT address, not the webhook, token or camera secrets of the
    running service. `${VAR}` interpolation still uses only real variables (it asks `in`, not `get`)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)

    def __getitem__(self, key: str) -> str:
        return self._env.get(key) or "set-elsewhere"

    def __contains__(self, key: object) -> bool:
        return key in self._env

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path.name, [ConfigProblem((), f"cannot read config: {exc.strerror}")]) from exc
    return parse_settings(text, path.name, env)
