"""YAML with line numbers: mappings and sequences that remember where each item was.

PyYAML's composer gives the position of every node; this turns the node tree into
plain dicts and lists (subclasses carrying ``line`` and ``lines``) so the validator
can name the line of any field. Duplicate keys, which PyYAML would silently
overwrite, are reported.
"""

from __future__ import annotations

from typing import Any

import yaml


class LocatedDict(dict):
    line: int
    lines: dict[Any, int]


class LocatedList(list):
    line: int
    lines: list[int]


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(message)


def _convert(node: yaml.Node, constructor: yaml.constructor.SafeConstructor) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        out = LocatedDict()
        out.line, out.lines = line, {}
        for key_node, value_node in node.value:
            key = _convert(key_node, constructor)
            if isinstance(key, (dict, list)):
                raise YamlSyntaxError(
                    key_node.start_mark.line + 1, "a mapping key must be a scalar"
                )
            if key in out:
                raise YamlSyntaxError(
                    key_node.start_mark.line + 1,
                    f"key {key!r} appears twice (first on line {out.lines[key]})",
                )
            out[key] = _convert(value_node, constructor)
            out.lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LocatedList(_convert(item, constructor) for item in node.value)
        seq.line, seq.lines = line, [item.start_mark.line + 1 for item in node.value]
        return seq
    return constructor.construct_object(node, deep=True)


def load_located(text: str) -> Any:
    """Parse one YAML document into located dicts and lists."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(mark.line + 1 if mark else None, str(exc.problem or exc)) from None
    finally:
        loader.dispose()
