"""Email templates: validation and Handlebars rendering through pybars3 (SPEC §10).

SES renders templates with Handlebars (`{{name}}`, `{{#if}}`, `{{#each}}`,
nested data). A simple `{{name}}` with no value in the data is a rendering
failure, "Attribute 'name' is not present in the rendering data." -- the text
SES puts in its Rendering Failure events and TestRenderTemplate answers.

Pure apart from pybars3 (which compiles a template to Python code): no I/O, no
clock. Two reaches into pybars' internals (pybars3 0.9.7, the last release): each
compiled template's own `prepare` is wrapped so a render's output is counted (pybars
has no hook for it), and extra compilers get a code generator of their own (pybars
keeps one per class). Errors are the AWS errors to answer (core.errors), so each API renders
them in its own protocol.
"""
from __future__ import annotations

import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from functools import lru_cache

from ..core.errors import BadRequestException, InvalidTemplate, MissingRenderingAttribute
from ..core.jsoninput import loads_object
from .headers import one_line

MAX_TEMPLATE_BYTES = 500 * 1024  # SES quotas: "Maximum size of an email template: 500 KB"
MAX_TEMPLATE_DATA = 262144  # the models' TemplateData max (botocore does not enforce it)
MAX_NAME = 64
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

@lru_cache(maxsize=1)
def _pybars():
    """pybars3, imported when a template is first compiled: its grammar is built at import
    (~0.4 s of CPU), which a start-up need not pay."""
    import pybars

    return pybars


@dataclass(frozen=True)
class TemplateContent:
    subject: str | None = None
    text: str | None = None
    html: str | None = None


class _Missing(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _helper_missing(scope, name, *args):
    """pybars calls this for a simple `{{name}}` whose value is None: SES fails the render."""
    if args:
        raise _pybars().PybarsError(f"Could not find helper {name}")
    raise _Missing(name)


# What one message's render (its parts together) may do. Blocks multiply: a list iterated
# inside itself is n² bodies, and `{{#with @root}}` lets a plain section ({{#list}}) nest in
# itself as deeply as the template likes; each body may repeat a 500 KB template or a
# 262,144-character value. So every block body run is counted (each iteration of `each`
# or of a section over a list, every `with`, `if`, `unless` and `else` body), and so is
# every character a body or a `{{value}}` puts out (a nested body's output counts again
# at each enclosing level, so this is a bound, not a size).
MAX_BLOCK_BODIES = 100_000
MAX_RENDERED_CHARS = 40 * 1024 * 1024  # SES's largest message (v2), 40 MB


class _TooMuchWork(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _Budget:
    """What the render running on this thread has spent (`_current.budget`)."""

    __slots__ = ("bodies", "chars")

    def __init__(self):
        self.bodies = 0
        self.chars = 0

    def spend(self, chars: int) -> None:
        self.chars += chars
        if self.chars > MAX_RENDERED_CHARS:
            raise _TooMuchWork(f"it would put out more than {MAX_RENDERED_CHARS:,} characters")

    def start_body(self) -> None:
        self.bodies += 1
        if self.bodies > MAX_BLOCK_BODIES:
            raise _TooMuchWork(f"its blocks would run more than {MAX_BLOCK_BODIES:,} times")


# The budget of the render running on this thread (compiled templates and helpers are shared).
_current = threading.local()


def _size(output) -> int:
    if output is None:
        return 0
    if isinstance(output, str):
        return len(output)
    return sum(map(len, output))  # pybars' strlist: a flat list of strings


def _counting_prepare(prepare):
    """pybars' `prepare` (how a `{{value}}` becomes output), with its output counted."""
    def counted(value, should_escape):
        prepared = prepare(value, should_escape)
        if type(prepared) is str:  # a strlist is blocks' output, counted there
            _current.budget.spend(len(prepared))
        return prepared
    return counted


def _counting(helper):
    """`helper` with every body it runs (options' fn and inverse) counted against the budget."""
    def counted(body):
        def run(this):
            budget = _current.budget
            budget.start_body()
            output = body(this)
            budget.spend(_size(output))
            return output
        return run

    def wrapped(this, options=None, *args):
        if isinstance(options, dict):  # a block; `{{if x}}` without one has no body to count
            for key in ("fn", "inverse"):
                if callable(options.get(key)):
                    options[key] = counted(options[key])
        return helper(this, options, *args)

    return wrapped


@lru_cache(maxsize=1)
def _helpers() -> dict:
    """The helpers of every render: SES's missing-attribute rule, and pybars' built-in helpers
    that run a block body (each, with, if, unless, and blockHelperMissing behind a plain
    section) counted against the thread's budget (a helper given by name replaces the built-in)."""
    builtin = _pybars()._compiler._pybars_["helpers"]
    return {"helperMissing": _helper_missing,
            **{name: _counting(builtin[name]) for name in ("blockHelperMissing", "each", "with", "if", "unless")}}


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidTemplate(
            f"Invalid template name {name!r}: up to {MAX_NAME} ASCII letters, digits, '_' or '-'.")
    return name


def validate(name: str, content: TemplateContent) -> None:
    """A template SES would store: text parts within the size limit, each valid Handlebars."""
    parts = [p for p in (content.subject, content.text, content.html) if p is not None]
    if not all(isinstance(p, str) for p in parts):
        raise BadRequestException(f"Template {name}: Subject, Text and Html must be strings.")
    if not parts or not any(parts):
        raise InvalidTemplate(f"Template {name} must have a subject, a text part or an HTML part.")
    size = sum(len(p.encode("utf-8")) for p in parts)
    if size > MAX_TEMPLATE_BYTES:
        raise InvalidTemplate(f"Template {name} is {size} bytes; the limit is {MAX_TEMPLATE_BYTES} bytes (500 KB).")
    for part in parts:
        _compiled(part)


@lru_cache(maxsize=512)
def _compiled_or_error(source: str):
    try:
        with _compiler() as compiler:
            function = compiler.compile(source)
    except Exception as exc:  # PyMeta's ParseError and pybars' own
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # pybars registers a module per template; the function keeps its globals alive.
    sys.modules.pop(function.__module__, None)
    # The template's module imported pybars' `prepare`; its own copy counts what it puts out.
    function.__globals__["prepare"] = _counting_prepare(function.__globals__["prepare"])
    return function


@contextmanager
def _compiler():
    """A pybars compiler no other thread is using. pybars keeps its code generator in a
    class attribute, so one compiler cannot serve two compiles at once; rather than make
    every compile wait for the one running (pybars takes ~0.5 ms an expression: a minute
    for 100,000), a second compile gets a compiler with a generator of its own (~0.35 s
    to build, once). Compilers are kept for the next compile."""
    global _compilers_made
    with _compilers_lock:
        compiler = _idle_compilers.pop() if _idle_compilers else None
        made_before = _compilers_made
        _compilers_made += compiler is None
    if compiler is None:
        pybars = _pybars()
        compiler = pybars.Compiler()
        if made_before:  # the first one uses the class's generator, which no other one touches
            internals = pybars._compiler
            compiler._builder = internals.CodeBuilder()
            compiler._compiler = internals.OMeta.makeGrammar(internals.compile_grammar,
                                                             {"builder": compiler._builder})
    try:
        yield compiler
    finally:
        with _compilers_lock:
            _idle_compilers.append(compiler)


_compilers_lock = threading.Lock()
_idle_compilers: list = []
_compilers_made = 0


def _compiled(source: str):
    compiled = _compiled_or_error(source)
    if isinstance(compiled, str):
        raise InvalidTemplate(f"The template is not valid Handlebars: {compiled}")
    return compiled


def parse_data(text: object, member: str = "TemplateData") -> dict:
    """TemplateData: a JSON object as a string, at most 262,144 characters."""
    if not isinstance(text, str):
        raise BadRequestException(f"{member} is required and must be a string.")
    if len(text) > MAX_TEMPLATE_DATA:
        raise BadRequestException(f"{member} is longer than {MAX_TEMPLATE_DATA} characters.")
    # Not valid JSON, not an object, nested deeper than 64, NaN or a lone surrogate: refused
    # as in a request body (core/jsoninput.py), naming the member (e.g. TemplateData.name).
    return loads_object(text, BadRequestException, what=member, prefix=member)


def _render_part(source: str | None, data: dict, helpers: dict, budget: _Budget) -> str | None:
    if source is None:
        return None
    template = _compiled(source)
    _current.budget = budget
    try:
        return str(template(data, helpers=helpers))
    except _TooMuchWork as exc:
        raise InvalidTemplate(f"The template could not be rendered: {exc.what}.") from None
    except _Missing as missing:
        raise MissingRenderingAttribute(f"Attribute '{missing.name}' is not present in the rendering data.") from None
    except TypeError:  # e.g. `{{#if}}` with nothing to test: Python's words would name pybars' internals
        raise InvalidTemplate("The template could not be rendered: a helper was given the wrong "
                              "number or kind of arguments.") from None
    except (_pybars().PybarsError, RecursionError, ValueError, IndexError, KeyError) as exc:
        raise InvalidTemplate(f"The template could not be rendered: {exc}") from None
    finally:
        _current.budget = None


def render(content: TemplateContent, data: dict) -> TemplateContent:
    """Each part rendered with the data (Handlebars semantics: `{{x}}` HTML-escapes)."""
    budget = _Budget()  # one for the message's parts together
    helpers = _helpers()
    return TemplateContent(*(_render_part(part, data, helpers, budget)
                             for part in (content.subject, content.text, content.html)))


def as_simple(rendered: TemplateContent) -> dict:
    """The rendered template as SendEmail's `Content.Simple` (what the message is composed from)."""
    body = {}
    if rendered.text is not None:
        body["Text"] = {"Data": rendered.text, "Charset": "UTF-8"}
    if rendered.html is not None:
        body["Html"] = {"Data": rendered.html, "Charset": "UTF-8"}
    return {"Subject": {"Data": rendered.subject or "", "Charset": "UTF-8"}, "Body": body}


def render_mime(rendered: TemplateContent) -> str:
    """TestRender*'s answer: the rendered message as MIME text (Subject, then the parts)."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = one_line(rendered.subject or "")  # every line break, not only CR and LF
    if rendered.text is not None:
        message.set_content(rendered.text, subtype="plain", charset="utf-8")
        if rendered.html is not None:
            message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    elif rendered.html is not None:
        message.set_content(rendered.html, subtype="html", charset="utf-8")
    return message.as_string()
