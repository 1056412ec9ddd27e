"""YAML with line numbers: PyYAML's safe loader, recording where each mapping and value is,
so that an import error can name the line at fault."""

from __future__ import annotations

from typing import Any

import yaml

from imaradesk.knowledge_index.errors import ImportFormatError


class LinedMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers the 1-based line of itself and of each of its values."""

    line: int = 0
    value_lines: dict[str, int]
    # "|" or ">" for block scalars, whose text starts on the line after the indicator
    value_styles: dict[str, str | None]


class _LineLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no arbitrary objects), which also records where mappings are."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LinedMap:
        plain = super().construct_mapping(node, deep=deep)
        mapping = LinedMap(plain)
        mapping.line = node.start_mark.line + 1
        mapping.value_lines = {}
        mapping.value_styles = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                mapping.value_lines[str(key_node.value)] = value_node.start_mark.line + 1
                mapping.value_styles[str(key_node.value)] = getattr(value_node, "style", None)
        return mapping


def _construct_deep_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LinedMap:
    return loader.construct_mapping(node, deep=True)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_deep_mapping)


def load_yaml(data: bytes, source: str) -> Any:
    """The file's YAML, safely loaded, with the lines of its mappings."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(source, data[: e.start].count(b"\n") + 1, "not valid UTF-8") from e
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ImportFormatError(source, line, f"malformed YAML: {e.problem or e}") from e
    except yaml.YAMLError as e:
        raise ImportFormatError(source, 0, f"malformed YAML: {e}") from e


def line_of(value: Any, key: str | None = None) -> int:
    """The 1-based line of a loaded mapping, or of its value under ``key``; 0 if unknown."""
    if isinstance(value, LinedMap):
        return value.value_lines.get(key, value.line) if key else value.line
    return 0
