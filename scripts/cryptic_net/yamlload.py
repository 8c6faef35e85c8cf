"""A YAML loader for hostile input: bounded, located, plain data only.

Every failure becomes a Diagnostic with the file, line and column of the offending node, so
that the validator can report all problems of all files at once. Limits are checked on the
event stream (iterative, no recursion) before a node tree is built, so that very deep nesting
or an alias bomb costs neither stack nor memory.

Parsing uses PyYAML's libyaml binding (`CSafeLoader`) where PyYAML was built with it, about
ten times faster than its pure-Python parser, which stays the fallback; both go through the
same checks here, and the tests run the bad-input corpus through each
(`CRYPTIC_NET_YAML=pure` forces the pure-Python one). PyYAML rather than a second YAML
library: it is the one the project already depends on, and both its parsers are well kept.

No control characters: the text may not hold any (C0 except tab, newline and carriage return;
DEL; C1; U+2028/U+2029), and no string value or key may hold one at all, however it was
written (`"\n"`, a block scalar's newline, a tab): values reach configuration files and shell
environment files, where a newline starts a new line of configuration.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from cryptic_net.errors import Diagnostic

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Refused anywhere in the text: what PyYAML's reader refuses, plus C1, U+2028 and U+2029
# (libyaml accepts some of those), so that both parsers behave the same.
_BAD_TEXT = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Refused in every string value and key, however written.
_BAD_VALUE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_C_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def loader_class() -> type[yaml.SafeLoader]:
    """libyaml's loader where PyYAML has it, else (or with CRYPTIC_NET_YAML=pure) pure Python."""
    if _C_LOADER is not None and os.environ.get("CRYPTIC_NET_YAML") != "pure":
        return _C_LOADER
    return yaml.SafeLoader


# The tags plain data may carry. Anything else (!!python/object, !!binary, !!set, a custom
# `!tag`) is refused: the inventory is data, and yaml.SafeLoader would still build sets and
# bytes that no schema expects.
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"


def json_path(parent: str, key: object) -> str:
    """`$.a.b[0]` for identifiers and indices, `$['odd key']` for anything else."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    text = str(key)
    if _PLAIN_KEY.match(text):
        return f"{parent}.{text}"
    return f"{parent}[{text!r}]"


@dataclass
class Document:
    """A loaded YAML file: its data and where each value (and each key) stands."""

    file: str
    data: Any
    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: str, *, key: bool = False) -> tuple[int, int]:
        """The best location for `path`: the node itself, else its nearest ancestor."""
        table = self.keys if key and path in self.keys else self.values
        probe = path
        while probe not in table and probe != "$":
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else "$"
            table = self.values
        return table.get(probe, (1, 1))

    def diag(self, path: str, message: str, *, key: bool = False, warning: bool = False) -> Diagnostic:
        line, col = self.where(path, key=key)
        return Diagnostic(self.file, line, col, path, message, "warning" if warning else "error")


class LoadError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


def _at(file: str, mark: Any, message: str, path: str = "$") -> LoadError:  # a yaml Mark, C or Python
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return LoadError(Diagnostic(file, line, col, path, message))


def _decode(file: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(
            Diagnostic(file, line, col, "$", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})")
        ) from None


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _reader_error(file: str, text: str, exc: yaml.reader.ReaderError) -> LoadError:
    before = text[: exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return LoadError(Diagnostic(file, line, col, "$", f"control character U+{char:04X} is not allowed"))


def _check_text(file: str, text: str) -> None:
    bad = _BAD_TEXT.search(text)
    if bad is not None:
        before = text[: bad.start()]
        line = before.count("\n") + 1
        col = bad.start() - (before.rfind("\n") + 1) + 1
        raise LoadError(
            Diagnostic(file, line, col, "$", f"control character U+{ord(bad.group()):04X} is not allowed")
        )


def _check_events(file: str, text: str, loader: type[yaml.SafeLoader]) -> int | None:  # noqa: C901 (one pass over the events)
    """Depth and document count, from the event stream; the number of nodes, or None when
    the document uses aliases (then only the node tree can tell)."""
    depth = 0
    documents = 0
    nodes: int | None = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                nodes = None
            elif isinstance(event, yaml.ScalarEvent):
                nodes = None if nodes is None else nodes + 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _at(file, event.start_mark, "only one YAML document per file")
            elif isinstance(event, yaml.CollectionStartEvent):
                nodes = None if nodes is None else nodes + 1
                depth += 1
                if depth > MAX_DEPTH:
                    raise _at(file, event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if loader is not yaml.SafeLoader:
            # libyaml words syntax errors differently: ask the pure-Python parser, so that a
            # message does not depend on how PyYAML was built (errors are rare; this is cheap).
            _check_events(file, text, yaml.SafeLoader)
        if isinstance(exc, yaml.reader.ReaderError):
            raise _reader_error(file, text, exc) from None
        if isinstance(exc, yaml.MarkedYAMLError):
            raise _at(file, exc.problem_mark, _yaml_problem(exc)) from None
        raise _at(file, None, f"not valid YAML: {exc}") from None
    return nodes


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "not valid YAML: " + ", ".join(parts) if parts else "not valid YAML"


def _expanded_size(file: str, root: yaml.Node) -> int:
    """How many nodes the document has once aliases are expanded (memoised, so shared
    subtrees are counted without being walked again: a billion laughs costs microseconds).
    Recursion depth is bounded by MAX_DEPTH, checked on the events before."""
    memo: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        known = memo.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise _at(file, node.start_mark, "an alias refers to a node that contains it")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(id(node))
        memo[id(node)] = total = min(total, MAX_NODES + 1)
        return total

    return size(root)


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.doc = Document(file, None)

    def build(self, node: yaml.Node, path: str) -> Any:
        self.doc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _at(self.file, node.start_mark, f"tag {_short_tag(node.tag)} is not allowed", path)
            return [self.build(child, json_path(path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise _at(self.file, node.start_mark, f"tag {_short_tag(node.tag)} is not allowed", path)
            return self._mapping(node, path)
        raise _at(self.file, node.start_mark, "unsupported YAML node", path)  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _at(self.file, node.start_mark, f"tag {_short_tag(node.tag)} is not allowed", path)
        if node.tag == "tag:yaml.org,2002:timestamp":
            # Keep dates as the text the user wrote; no field of ours is a date.
            return node.value
        try:
            # A plain string is most of an inventory: no constructor needed for it.
            value = node.value if node.tag == _STR_TAG else self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise _at(self.file, node.start_mark, f"cannot read value: {exc}", path) from None
        if isinstance(value, str):
            bad = _BAD_VALUE.search(value)
            if bad is not None:
                raise _at(
                    self.file,
                    node.start_mark,
                    f"control character U+{ord(bad.group()):04X} is not allowed in a value or key",
                    path,
                )
        return value

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _at(self.file, key_node.start_mark, "merge keys (<<) are not supported", path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _at(self.file, key_node.start_mark, "a key must be a plain scalar", path)
            key = self._scalar(key_node, path)
            child = json_path(path, key)
            if key in first:
                earlier = first[key].start_mark.line + 1
                raise _at(
                    self.file, key_node.start_mark, f"duplicate key (first defined on line {earlier})", child
                )
            first[key] = key_node
            self.doc.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result


def _needs_event_pass(text: str) -> bool:
    """Whether the limits must be checked on the events before composing. They need not when
    the text cannot break them: no aliases (`*`), no document markers, few enough characters
    for MAX_NODES (every node takes at least one), and fewer characters that open a collection
    (`[`, `{`, `-`, `?`, a line) than MAX_DEPTH. Host files are like that, and skipping the
    second parse halves the cost of reading them."""
    if len(text) > MAX_NODES // 2 or "*" in text or "---" in text or "..." in text:
        return True
    opening = text.count("[") + text.count("{") + text.count("-") + text.count("?") + text.count("\n")
    return opening >= MAX_DEPTH


def load_text(file: str, text: str) -> Document:
    """Parse one YAML document into plain data plus the location of every node."""
    _check_text(file, text)
    loader_type = loader_class()
    nodes = _check_events(file, text, loader_type) if _needs_event_pass(text) else 0
    loader = loader_type(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        if loader_type is not yaml.SafeLoader:
            _check_events(file, text, yaml.SafeLoader)  # the pure-Python parser's words
        if isinstance(exc, yaml.MarkedYAMLError):
            raise _at(file, exc.problem_mark, _yaml_problem(exc)) from None
        raise _at(file, None, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None:
        return Document(file, None)
    # Without aliases the events counted every node; with them (a billion laughs?) the tree,
    # with aliases expanded, is counted without being walked twice.
    if (nodes if nodes is not None else _expanded_size(file, node)) > MAX_NODES:
        raise _at(file, node.start_mark, f"expands to more than {MAX_NODES} nodes (alias bomb?)")
    builder = _Builder(file, loader)
    builder.doc.data = builder.build(node, "$")
    return builder.doc


def load_file(file: str, path: Path) -> Document:
    """Read a file with a size cap, decode it strictly, then `load_text`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LoadError(Diagnostic(file, 1, 1, "$", f"cannot read: {exc.strerror}")) from None
    if len(raw) > MAX_BYTES:
        raise LoadError(Diagnostic(file, 1, 1, "$", f"file is larger than {MAX_BYTES // 1024} KiB"))
    return load_text(file, _decode(file, raw))
