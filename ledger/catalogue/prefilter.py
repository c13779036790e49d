"""A fast yes/no JSON Schema check, exactly equal to the reference validator.

Intake validates every event against its type's published schema. The reference
validator (jsonschema, draft 2020-12) explains a refusal precisely, but is slow; this
module compiles a schema into one plain Python function that answers only "valid or
not", with no exceptions and no messages: about four times faster than fastjsonschema's
generated code on a data-accessed event, and ten times faster than jsonschema. Only
when it says "not valid" does intake ask the reference what is wrong, and where.

It supports the keywords the catalogue uses, each with jsonschema's exact meaning (the
same type checks, ``re.search`` for patterns, jsonschema's own format checker and
equality); a schema with any other keyword is refused at compile time
(:class:`Unsupported`), and then only the reference runs. The generated code embeds no
text from the schema except through ``repr`` of strings and a table of constants.
``tests/unit/test_schema_fast_path.py`` checks that the function and the reference agree,
both ways, on mutated examples of every type.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import FormatChecker
from jsonschema._format import is_datetime as _jsonschema_is_datetime
from jsonschema._utils import equal

Predicate = Callable[[Any], bool]

# Annotations: they never change whether an instance is valid.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)
KEYWORDS = frozenset(
    {
        "type",
        "const",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "items",
        "minProperties",
        "maxProperties",
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
    }
)


class Unsupported(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def _is_integer(value: Any) -> bool:  # jsonschema's "integer" (draft 4 onwards)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:  # jsonschema's "number"
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# Keywords bounding a length (code points, items, members), each for values of one type.
LENGTH_BOUNDS = {
    "minLength": ("string", "<"),
    "maxLength": ("string", ">"),
    "minItems": ("array", "<"),
    "maxItems": ("array", ">"),
    "minProperties": ("object", "<"),
    "maxProperties": ("object", ">"),
}

TYPE_TESTS = {
    "array": "isinstance({v}, list)",
    "boolean": "isinstance({v}, bool)",
    "integer": "_is_integer({v})",
    "null": "{v} is None",
    "number": "_is_number({v})",
    "object": "isinstance({v}, dict)",
    "string": "isinstance({v}, str)",
}


class _Generator:
    """Writes one function per schema (and per ``$defs`` entry it refers to)."""

    def __init__(self, root: Mapping[str, Any], format_checker: FormatChecker) -> None:
        self.root = root
        self.format_checker = format_checker
        self.namespace: dict[str, Any] = {
            "_is_integer": _is_integer,
            "_is_number": _is_number,
            "_equal": equal,
        }
        self.functions: list[str] = []
        self.refs: dict[str, str] = {}
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("K")
        self.namespace[name] = value
        return name

    def function(self, schema: Any) -> str:
        """Generate a function for ``schema``; its name."""
        name = self.fresh("f")
        body = self.body(schema, "v", 1)
        self.functions.append("\n".join([f"def {name}(v):", *body, "    return True"]))
        return name

    def ref(self, target: str) -> str:
        prefix = "#/$defs/"
        key = target.removeprefix(prefix)
        if not target.startswith(prefix) or "/" in key or key not in self.root.get("$defs", {}):
            raise Unsupported(f"$ref {target!r}")
        if target not in self.refs:
            self.refs[target] = name = self.fresh("r")
            body = self.body(self.root["$defs"][key], "v", 1)
            self.functions.append("\n".join([f"def {name}(v):", *body, "    return True"]))
        return self.refs[target]

    def body(self, schema: Any, v: str, depth: int) -> list[str]:
        """Statements that ``return False`` unless the value named ``v`` is valid."""
        pad = "    " * depth
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False"]
        if not isinstance(schema, Mapping):
            raise Unsupported(f"not a schema: {schema!r}")
        unknown = set(schema) - ANNOTATIONS - KEYWORDS
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        out: list[str] = []

        def fail_if(condition: str) -> None:
            out.append(f"{pad}if {condition}:")
            out.append(f"{pad}    return False")

        known = ""  # the one type the value is known to have, if any
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            if not names or any(n not in TYPE_TESTS for n in names):
                raise Unsupported(f"type {schema['type']!r}")
            fail_if("not (" + " or ".join(TYPE_TESTS[n].format(v=v) for n in names) + ")")
            known = names[0] if len(names) == 1 else ""

        def guard(kind: str) -> str:
            """The type test a keyword for values of ``kind`` needs, if still unknown."""
            return "" if known == kind else TYPE_TESTS[kind].format(v=v) + " and "

        if "const" in schema:
            const = schema["const"]
            if isinstance(const, str):  # jsonschema compares with a string by ==
                fail_if(f"{v} != {const!r}")
            else:
                fail_if(f"not _equal({v}, {self.constant(const)})")
        if "enum" in schema:
            values = tuple(schema["enum"])
            if all(isinstance(x, str) or x is None for x in values):
                # For strings and null, jsonschema's equality is Python's ==.
                fail_if(f"{v} not in {self.constant(values)}")
            else:
                fail_if(f"not any(_equal({v}, x) for x in {self.constant(values)})")
        for keyword, (kind, operator) in LENGTH_BOUNDS.items():
            if keyword in schema:
                fail_if(f"{guard(kind)}len({v}) {operator} {int(schema[keyword])}")
        self.strings(schema, v, guard("string"), fail_if)
        self.numbers(schema, v, fail_if)
        if "items" in schema:
            self.items(schema["items"], v, depth, guard("array"), out)
        self.objects(schema, v, depth, guard("object"), out, fail_if)
        if "$ref" in schema:
            fail_if(f"not {self.ref(schema['$ref'])}({v})")
        for sub in schema.get("allOf", ()):
            out += self.body(sub, v, depth)
        if "anyOf" in schema:
            names = [self.function(sub) for sub in schema["anyOf"]]
            fail_if("not (" + " or ".join(f"{n}({v})" for n in names) + ")")
        if "oneOf" in schema:
            names = [self.function(sub) for sub in schema["oneOf"]]
            fail_if("(" + " + ".join(f"{n}({v})" for n in names) + ") != 1")
        if "not" in schema:
            fail_if(f"{self.function(schema['not'])}({v})")
        if "if" in schema and ("then" in schema or "else" in schema):
            out.append(f"{pad}if {self.function(schema['if'])}({v}):")
            out += self.body(schema.get("then", True), v, depth + 1) or [f"{pad}    pass"]
            out.append(f"{pad}else:")
            out += self.body(schema.get("else", True), v, depth + 1) or [f"{pad}    pass"]
        return out

    def strings(
        self, schema: Mapping[str, Any], v: str, guard: str, fail_if: Callable[[str], None]
    ) -> None:
        if "pattern" in schema:  # jsonschema searches; it does not match
            search = self.constant(re.compile(schema["pattern"]).search)
            fail_if(f"{guard}{search}({v}) is None")
        if "format" in schema:
            conforms = self.constant(format_test(self.format_checker, str(schema["format"])))
            fail_if(f"not {conforms}({v})")

    def numbers(self, schema: Mapping[str, Any], v: str, fail_if: Callable[[str], None]) -> None:
        for keyword, operator in (("minimum", "<"), ("maximum", ">")):
            if keyword in schema:
                bound = self.constant(schema[keyword])
                fail_if(f"_is_number({v}) and {v} {operator} {bound}")

    def items(self, schema: Any, v: str, depth: int, guard: str, out: list[str]) -> None:
        pad = "    " * depth
        item = self.fresh("i")
        inner = self.body(schema, item, depth + 2)
        if inner:
            out.append(f"{pad}if {guard}True:")
            out.append(f"{pad}    for {item} in {v}:")
            out += inner

    def objects(
        self,
        schema: Mapping[str, Any],
        v: str,
        depth: int,
        guard: str,
        out: list[str],
        fail_if: Callable[[str], None],
    ) -> None:
        pad = "    " * depth
        properties = schema.get("properties", {})
        if "required" in schema:
            needed = self.constant(frozenset(schema["required"]))
            fail_if(f"{guard}not ({needed} <= {v}.keys())")
        extra = schema.get("additionalProperties", True)
        if extra is False:
            known = self.constant(frozenset(properties))
            fail_if(f"{guard}not ({v}.keys() <= {known})")
        elif extra is not True:
            known = self.constant(frozenset(properties))
            check = self.function(extra)
            fail_if(f"{guard}not all({check}(x) for k, x in {v}.items() if k not in {known})")
        checks: list[str] = []
        for name, sub in properties.items():
            value = self.fresh("p")
            inner = self.body(sub, value, depth + 2)
            if inner:
                key = repr(str(name))
                checks += [f"{pad}    if {key} in {v}:", f"{pad}        {value} = {v}[{key}]"]
                checks += inner
        if checks:
            out.append(f"{pad}if {guard}True:")
            out += checks


# jsonschema's "date-time" (``is_datetime``: rfc3339_validator's regex on the upper-cased
# text, then the day within its month) for ASCII text, without the upper-casing, the
# ``map`` and ``calendar.monthrange``: a third of the time, on every event's "time".
# Other text (upper-casing could change it) takes jsonschema's own function.
_RFC3339 = re.compile(
    r"^(\d{4})-(0[1-9]|1[0-2])-(\d{2})[Tt](?:[01]\d|2[0123]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:[Zz]|[+-](?:[01]\d|2[0123]):[0-5]\d)$",
    re.ASCII,
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_time_test(reference: Callable[[Any], bool]) -> Predicate:
    def conforms(instance: Any) -> bool:
        if type(instance) is not str or not instance.isascii():
            return bool(reference(instance))
        found = _RFC3339.match(instance)
        if found is None:
            return False
        year, month, day = int(found[1]), int(found[2]), int(found[3])
        if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            return year != 0 and 1 <= day <= 29
        return year != 0 and 1 <= day <= _DAYS_IN_MONTH[month]

    return conforms


def format_test(format_checker: FormatChecker, name: str) -> Predicate:
    """``format_checker.conforms(instance, name)``, without its per-call lookup and
    exception: the checker's own function, with the errors it counts as "does not
    conform" (jsonschema's ``FormatChecker.check`` does exactly this)."""
    if name not in format_checker.checkers:
        return lambda instance: True
    check, raises = format_checker.checkers[name]
    if check is _jsonschema_is_datetime and not raises:
        return _date_time_test(check)

    def conforms(instance: Any) -> bool:
        try:
            return bool(check(instance))
        except raises:
            return False

    return conforms


def compile_schema(schema: Mapping[str, Any], format_checker: FormatChecker) -> Predicate:
    """A function equal to "``schema`` (draft 2020-12) accepts the instance"."""
    generator = _Generator(schema, format_checker)
    entry = generator.function(schema)
    source = "\n\n".join(generator.functions)
    namespace = dict(generator.namespace)
    exec(compile(source, f"<schema {schema.get('$id', '')}>", "exec"), namespace)  # noqa: S102
    predicate: Predicate = namespace[entry]
    predicate.__doc__ = source  # what was generated, for whoever debugs it
    return predicate
