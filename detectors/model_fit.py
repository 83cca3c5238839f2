"""Weights that do not fit: one error type, with a stable code and the message in English and Chinese.

A district's own model (trained here or bought from a vendor) fails in a few ways that people can fix if
told plainly: the file is not there, it is not an ONNX model, its outputs are not a YOLO detector's, its
class count differs from the names configured, or the class map names classes the model does not have.
The loaders raise `WeightsError`; the service logs and shows the English text (`str`), the command line
prints the one in the user's language (`message(lang)`, `language_from_env`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Lang = Literal["en", "zh-CN"]

# code -> (English, Chinese) message templates; params are filled in with str.format.
MESSAGES: dict[str, tuple[str, str]] = {
    "weights_missing": (
        "model file {path} not found",
        "找不到模型文件 {path}",
    ),
    "weights_unreadable": (
        "{path} is not a readable {format} model: {reason}",
        "{path} 不是可读取的 {format} 模型：{reason}",
    ),
    "weights_outputs": (
        "{path}: cannot tell the architecture from output shape {shape} with {classes} classes; a YOLO "
        "detector outputs [batch, 4 + classes, boxes] (YOLOv8/11) or [batch, boxes, 5 + classes] (YOLOX, "
        "YOLOv5). A classification or segmentation model cannot be used; otherwise set arch",
        "{path}：无法从输出形状 {shape} 和 {classes} 个类别判断模型结构。YOLO 检测模型的输出应为 "
        "[批, 4 + 类别数, 框数]（YOLOv8/11）或 [批, 框数, 5 + 类别数]（YOLOX、YOLOv5）。"
        "分类或分割模型不能使用；如确为检测模型，请设置 arch",
    ),
    "weights_class_count": (
        "{path}: the model outputs {model_classes} classes but {classes} class names are configured "
        "({source}); list the model's classes in id order in class_names",
        "{path}：模型输出 {model_classes} 个类别，但配置了 {classes} 个类别名（{source}）；"
        "请在 class_names 中按编号顺序列出模型的全部类别",
    ),
    "weights_rows": (
        "{path}: the output has {rows} rows where a {arch} model has {expected} at this input size; "
        "the architecture is not {arch} (leave arch at auto, or set the right one)",
        "{path}：输出有 {rows} 行，而该输入尺寸下的 {arch} 模型应有 {expected} 行；"
        "模型结构不是 {arch}（请将 arch 设为 auto 或正确的结构）",
    ),
    "weights_unknown_class": (
        "classes {unknown} are not among the model's classes {names}",
        "类别映射中的 {unknown} 不在模型的类别 {names} 之中",
    ),
    "weights_fixed_size": (
        "{path}: this graph only runs at {native}; drop input_size or set it to {native}",
        "{path}：该模型只能以输入尺寸 {native} 运行；请删除 input_size 或将其设为 {native}",
    ),
    "weights_failed_load": (
        "{path}: the runtime cannot load this graph: {reason}",
        "{path}：推理引擎无法加载该模型：{reason}",
    ),
    "weights_failed_run": (
        "{path}: the model failed on a test frame: {reason}",
        "{path}：模型在测试画面上运行失败：{reason}",
    ),
    "weights_serves_nothing": (
        "{name}: the model's classes {names} include none of {kinds}, so its rules would never fire; "
        "map them, e.g. classes: {{Flame: fire, Smoke: smoke}}",
        "{name}：模型的类别 {names} 中没有 {kinds}，相应规则永远不会触发；"
        "请做类别映射，例如 classes: {{Flame: fire, Smoke: smoke}}",
    ),
}

CLASS_NAME_SOURCES: dict[str, tuple[str, str]] = {
    "config": ("class_names in the config", "配置中的 class_names"),
    "metadata": ("from the model's metadata", "来自模型元数据"),
    "coco": (
        "the COCO default: the model carries no class names",
        "默认的 COCO 类别：模型未携带类别名",
    ),
}


class WeightsError(ValueError):
    """Weights that cannot serve as the configured detector; `code` and `params` say which way."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: Lang = "en") -> str:
        english, chinese = MESSAGES[self.code]
        params = {k: _localised(v, lang) for k, v in self.params.items()}
        return (chinese if lang == "zh-CN" else english).format(**params)


class MissingWeights(WeightsError, FileNotFoundError):
    """The weights file is not there (also a FileNotFoundError, as callers have always caught)."""

    def __init__(self, path: object) -> None:
        super().__init__("weights_missing", path=path)


def _localised(value: object, lang: Lang) -> object:
    """A (English, Chinese) pair given as a param picks its language; anything else is shown as is."""
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[1] if lang == "zh-CN" else value[0]
    return value


def language_from_env(env: Mapping[str, str]) -> Lang:
    """`SHARPEYES_LANG`, else the POSIX locale variables in their order: Chinese when one starts `zh`."""
    for key in ("SHARPEYES_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key, "")
        if value:
            return "zh-CN" if value.lower().startswith("zh") else "en"
    return "en"


def describe(exc: BaseException, lang: Lang) -> str:
    """The text a person reads: a WeightsError in their language, anything else as it is."""
    return exc.message(lang) if isinstance(exc, WeightsError) else str(exc)


def check_class_count(path: object, model_classes: int, names: Sequence[str], source: str) -> None:
    """WeightsError when the model's class outputs and the configured names disagree."""
    if model_classes != len(names):
        raise WeightsError(
            "weights_class_count",
            path=path,
            model_classes=model_classes,
            classes=len(names),
            source=CLASS_NAME_SOURCES[source],
        )


def check_serves(name: str, class_names: Sequence[str], kinds: Sequence[str]) -> None:
    """WeightsError when none of a detector's (mapped) classes is one of the rule kinds it is to serve;
    rules match class names case-insensitively."""
    if not {c.lower() for c in class_names} & {k.lower() for k in kinds}:
        raise WeightsError(
            "weights_serves_nothing", name=name, names=list(class_names), kinds=", ".join(kinds)
        )
