"""Reading YAML that a user (or an attacker) wrote, within fixed bounds.

Every YAML maverick reads — workflow files, ``maverick.yaml``, ``-i`` values,
the files listed from ``.maverick/workflows/`` — goes through :func:`read_text`
and :class:`BoundedLoader`, so a small hostile input cannot exhaust the machine:

- only a regular file is read (a FIFO or ``/dev/zero`` is refused without
  blocking or reading forever), at most :attr:`Limits.max_bytes` of it, as UTF-8;
- composition counts nodes *as they are composed*, an alias counting as the full
  size of what it names, so "billion laughs" is refused after a few thousand
  nodes instead of after gigabytes; a recursive alias is refused;
- nesting deeper than :attr:`Limits.max_depth` is refused before Python's stack is;
- values are plain data: timestamps stay the text they were written as (a
  ``date`` cannot be stored or compared with what the user typed), integers are
  bounded, ``!!binary``/``!!set``/``!!omap``/``!!pairs`` are refused.

Each refusal is a :class:`YAMLLimitError` (a ``yaml.MarkedYAMLError``), so
callers that already turn YAML errors into ``file:line:col`` messages need no
new branch.

Scanning and parsing are libyaml's (the C library PyYAML's wheels ship), about twelve
times faster than PyYAML's Python; composing, where every bound above is enforced,
is Python either way. Without libyaml the pure-Python :class:`BoundedLoader` reads the
same documents to the same values and refusals (a test compares the two).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from yaml.events import AliasEvent

from maverick_core.engine.errors import DefinitionError, Location

# re-exported: every YAML read starts with reading the text within these bounds
from maverick_core.engine.textfile import INPUT_LIMITS as INPUT_LIMITS
from maverick_core.engine.textfile import WORKFLOW_LIMITS as WORKFLOW_LIMITS
from maverick_core.engine.textfile import Limits as Limits
from maverick_core.engine.textfile import decode as decode
from maverick_core.engine.textfile import read_text as read_text

if TYPE_CHECKING:
    from yaml.nodes import Node

INT_LIMIT = 1 << 63
"""Integers must lie strictly within ±2**63: what every store and serializer keeps exactly."""


class YAMLLimitError(yaml.MarkedYAMLError):
    """A document exceeds a :class:`Limits` bound or holds a value maverick cannot keep."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _PlainResolver(yaml.resolver.Resolver):
    """The safe resolver without implicit timestamps: ``2024-01-01`` stays text."""


_PlainResolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}


class _PlainConstructor(yaml.constructor.SafeConstructor):
    """Builds only plain data (str, int, float, bool, None, list, dict)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value).replace("_", "")
        digits = text.lstrip("+-")
        # int() of a long decimal string is quadratic and Python refuses 4300+ digits:
        # refuse on length before converting
        if len(digits) > 40 and not digits.startswith(("0b", "0x", "0o")):
            raise YAMLLimitError("integer too large (at most 2**63 - 1)", node.start_mark)
        try:
            value: int = super().construct_yaml_int(node)
        except ValueError:
            raise YAMLLimitError("integer too large (at most 2**63 - 1)", node.start_mark) from None
        if not -INT_LIMIT < value < INT_LIMIT:
            raise YAMLLimitError("integer too large (at most 2**63 - 1)", node.start_mark)
        return value

    def construct_as_text(self, node: yaml.ScalarNode) -> str:
        """A timestamp is kept as the text the user wrote."""
        return str(self.construct_scalar(node))

    def refuse(self, node: Node) -> Any:
        """Tags that build values no store can keep."""
        raise YAMLLimitError(f"the tag {node.tag} is not supported here", node.start_mark)


class _BoundedComposer(yaml.composer.Composer):
    """The composer that enforces :class:`Limits`, over whichever parser gives it events.

    Every composed node is charged its *expanded* size (itself plus its children,
    an alias counting as the size of the node it names), so the total is the node
    count of the fully expanded document and the limit trips long before an
    expansion is materialised.
    """

    limits = WORKFLOW_LIMITS

    def _start_bounds(self) -> None:
        self._charged = 0
        self._depth = 0
        self._weights: dict[int, int] = {}

    def _charge(self, count: int, mark: yaml.Mark | None) -> None:
        self._charged += count
        if self._charged > self.limits.max_nodes:
            raise YAMLLimitError(
                f"the document expands to more than {self.limits.max_nodes} values "
                "(aliases count as what they repeat)",
                mark,
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            target = self.anchors.get(event.anchor)
            if target is not None:
                weight = self._weights.get(id(target))
                if weight is None:
                    raise YAMLLimitError(
                        f"the alias *{event.anchor} refers to a value that contains it",
                        event.start_mark,
                    )
                self._charge(weight, event.start_mark)
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark  # type: ignore[attr-defined]
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise YAMLLimitError(f"nested more than {self.limits.max_depth} levels deep", mark)
        before = self._charged
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._charge(1, mark)
        self._weights[id(node)] = self._charged - before
        return node


class BoundedLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    _BoundedComposer,
    _PlainConstructor,
    _PlainResolver,
):
    """A safe loader that enforces :class:`Limits` while it composes (PyYAML's
    pure-Python scanner and parser: used where PyYAML was built without libyaml)."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _PlainConstructor.__init__(self)
        _PlainResolver.__init__(self)
        self._start_bounds()

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner looks ahead over every open '[' or '{' before the composer sees
        # the first, at a cost quadratic in their number: bound it where they are read.
        if self.flow_level >= self.limits.max_depth:
            raise YAMLLimitError(
                f"nested more than {self.limits.max_depth} levels deep", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)


def _libyaml_parser() -> type[Any] | None:
    """libyaml's parser, which PyYAML's wheels ship (None where PyYAML has no libyaml)."""
    try:
        from yaml import cyaml
    except ImportError:
        return None
    parser: type[Any] | None = getattr(cyaml, "CParser", None)
    return parser


_CPARSER = _libyaml_parser()


if _CPARSER is not None:

    class _CBoundedLoader(_BoundedComposer, _CPARSER, _PlainConstructor, _PlainResolver):  # type: ignore[misc,valid-type]
        """The same composer over libyaml's scanner and parser: about twelve times
        faster on a workflow file (fly.yaml: 17 -> 1.4 ms). The events come from C;
        composing, and so every bound, stays in the Python above, which comes first in
        the method order."""

        def __init__(self, stream: str) -> None:
            _CPARSER.__init__(self, stream)  # type: ignore[misc]
            yaml.composer.Composer.__init__(self)
            _PlainConstructor.__init__(self)
            _PlainResolver.__init__(self)
            self._start_bounds()


# (the stubs type a constructor's first argument as the loader class that declares it)
_INT, _TEXT, _REFUSE = (
    _PlainConstructor.construct_yaml_int,
    _PlainConstructor.construct_as_text,
    _PlainConstructor.refuse,
)
_PlainConstructor.add_constructor("tag:yaml.org,2002:int", _INT)  # type: ignore[type-var]
_PlainConstructor.add_constructor("tag:yaml.org,2002:timestamp", _TEXT)  # type: ignore[type-var]
for _tag in ("binary", "set", "omap", "pairs"):
    _PlainConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _REFUSE)  # type: ignore[type-var]

_FASTEST: type[Any] = BoundedLoader if _CPARSER is None else _CBoundedLoader


def bounded_loader(limits: Limits, pure: bool = False) -> type[Any]:
    """The loader class enforcing ``limits``: libyaml's parser under the bounded
    composer where PyYAML has it, else (or with ``pure``) :class:`BoundedLoader`."""
    base = BoundedLoader if pure else _FASTEST
    if limits == base.limits:
        return base
    return type("BoundedLoader", (base,), {"limits": limits})


def _check_size(text: str, limits: Limits) -> None:
    if len(text) > limits.max_bytes:
        raise YAMLLimitError(f"the text is longer than {limits.max_bytes} characters", None)


def compose(text: str, limits: Limits = WORKFLOW_LIMITS) -> Node | None:
    """The document's node tree, within ``limits`` (yaml errors propagate)."""
    _check_size(text, limits)
    loader = bounded_loader(limits)(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def load(text: str, limits: Limits = WORKFLOW_LIMITS) -> Any:
    """The document as plain data, within ``limits`` (yaml errors propagate)."""
    _check_size(text, limits)
    loader = bounded_loader(limits)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def located(exc: yaml.YAMLError, filename: str) -> DefinitionError:
    """A YAML error as a one-line ``file:line:col: invalid YAML: …`` error."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        location = Location(filename, mark.line + 1, mark.column + 1) if mark else None
        location = location or Location(filename, 1, 1)
        prefix = "" if isinstance(exc, YAMLLimitError) else "invalid YAML: "
        return DefinitionError(f"{prefix}{problem}", location)
    return DefinitionError(f"invalid YAML: {exc}", Location(filename, 1, 1))
