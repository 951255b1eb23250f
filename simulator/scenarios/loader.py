"""Scenario files (SPEC §9): read a YAML file, validate it against the step kinds'
schemas (steps.py) and reject anything the runner could not run, up front, with the
file, the step and the problem in the message. Pure: reads the botocore service
models, never the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError

from . import steps as _kinds  # noqa: F401  (declares every step kind into STEPS)
from .schema import DEFAULT_REGION, PART, STEPS, WHOLE, Region, Schema, Step, check, closest, duration_seconds

KINDS = tuple(STEPS)

__all__ = ["DEFAULT_REGION", "KINDS", "Scenario", "ScenarioError", "collect", "duration_seconds", "load", "parse"]


class ScenarioError(Exception):
    """A scenario file that cannot be run; the message names the file, the step and the problem."""

    def __init__(self, path: str, problem: str, step: int | None = None, line: int | None = None):
        self.path, self.problem, self.step, self.line = path, problem, step, line
        where = path
        if step is not None:
            where += f": step {step}"
            if line is not None:
                where += f" (line {line})"
        elif line is not None:
            where += f": line {line}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    region: str
    steps: tuple[Step, ...]


class _Document(Schema):
    """The file's top level; `steps` are validated one by one, each by its kind."""

    name: Annotated[str, check(lambda v: isinstance(v, str) and bool(v.strip()),
                               "is required: one line saying what the scenario shows")] = \
        Field(None, validate_default=True)
    region: Region = DEFAULT_REGION
    steps: Annotated[list, check(lambda v: isinstance(v, list) and bool(v), "is required: a non-empty list of steps")] = \
        Field(None, validate_default=True)


# --------------------------------------------------------------------------- pydantic's errors in our words


def _rank(error: dict) -> int:
    """The order a person fixes things in: stray keys beside the kind, the kind's value
    not a mapping, stray keys in it, missing keys, then values."""
    kind, depth = error["type"], len(error["loc"])
    if kind == "extra_forbidden":
        return 0 if depth == 1 else 2
    return {"model_type": 1, "model_attributes_type": 1, "missing": 3}.get(kind, 4)


def _keys(names: list) -> str:
    return f"key{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}"


def _keys_text(model) -> str:
    parts = [name if field.is_required() else f"{name}?" for name, field in model.model_fields.items()]
    return "{" + ", ".join(parts) + "}"


def _explain(exc: ValidationError, step: type[Step] | None = None) -> str:
    """The first problem of a step (or of the top level, step None) as one sentence."""
    errors = sorted(exc.errors(), key=_rank)
    first = errors[0]
    loc, kind, message = first["loc"], first["type"], first["msg"]
    if kind == WHOLE:
        return message
    # Every error of the same kind and place, for "unknown keys 'a', 'b'".
    alike = [e["loc"][-1] for e in errors if e["type"] == kind and e["loc"][:-1] == loc[:-1]]
    if step is None:
        if kind == "extra_forbidden":
            return f"unknown top-level {_keys(alike)}; a scenario has name, region? and steps"
        return f"{loc[0]} {message}"
    body = step.body()
    if kind == "extra_forbidden" and len(loc) == 1:
        siblings = step.siblings()
        hint = (f"; {step.kind} takes {', '.join(siblings)} beside it" if siblings
                else f"; {step.kind} takes no other keys")
        return f"unknown {_keys(alike)} in the {step.kind} step{hint}"
    if kind == "extra_forbidden":
        beside = ""
        if {"region", "account"} & set(alike) and "region" in step.model_fields:
            beside = " (region and account go beside the step kind, not inside it)"
        return f"unknown {_keys(alike)} in {step.kind}; it takes {_keys_text(body)}{beside}"
    if kind in ("model_type", "model_attributes_type"):
        return f"{step.kind} takes a mapping with {_keys_text(body)}, got {first['input']!r}"
    if kind == "missing":
        return f"{step.kind} is missing {', '.join(map(repr, alike))}"
    where = step.label or step.kind if loc == (step.kind,) else " ".join(map(str, loc))
    return f"{where} {message}" if kind == PART else f"{where}: {message}"


# --------------------------------------------------------------------------- files


def _step_lines(text: str) -> list[int]:
    """The line number where each step starts, from YAML's node marks (best effort)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader, but a key given twice in one mapping is an error: YAML would keep the
    last silently (a second `steps:` would drop the first block's steps unseen)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader says why
                break
            if repeated:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                        key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse(text: str, path: str = "<scenario>") -> Scenario:
    """A Scenario from YAML text, or ScenarioError naming `path`, the step and the problem."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 -- SafeLoader's constructors only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, f"not valid YAML: {problem}",
                            line=mark.line + 1 if mark is not None else None) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ScenarioError(path, "not a scenario: its YAML is nested too deeply") from None
    if not isinstance(document, dict):
        raise ScenarioError(path, "a scenario is a mapping with name, steps and optionally region")
    try:
        top = _Document.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(path, _explain(exc)) from None
    lines = _step_lines(text)
    steps = tuple(parse_step(path, number, lines[number - 1] if number <= len(lines) else None, raw)
                  for number, raw in enumerate(top.steps, start=1))
    return Scenario(path=path, name=top.name.strip(), region=top.region, steps=steps)


def parse_step(path: str, number: int, line: int | None, raw: Any) -> Step:
    """One step, validated by the schema of its kind."""
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(path, f"a step is a mapping with one of {', '.join(KINDS)}, got {raw!r}", number, line)
    kinds = [k for k in raw if k in STEPS]
    if len(kinds) > 1:
        raise ScenarioError(path, f"one step, one kind: found {', '.join(kinds)}", number, line)
    if not kinds:
        first = next(iter(raw))
        close = closest(str(first), KINDS)
        hint = f"; did you mean {close}?" if close else ""
        raise ScenarioError(path, f"unknown step kind {first!r}; use one of {', '.join(KINDS)}{hint}", number, line)
    step = STEPS[kinds[0]]
    try:
        return step.model_validate(raw, context={"number": number, "line": line})
    except ValidationError as exc:
        raise ScenarioError(path, _explain(exc, step), number, line) from None


def load(path: str | Path) -> Scenario:
    """Read and parse one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot read it: {exc}") from None
    return parse(text, str(path))


def collect(paths: list[str | Path]) -> list[Path]:
    """Scenario files from files and folders (a folder: its *.yaml and *.yml, sorted).

    Raises ScenarioError for a path that does not exist.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError(str(path), "no such file or folder")
    return files
