"""Email templates: validation and Handlebars rendering through pybars3 (SPEC §10).

SES renders templates with Handlebars (`{{name}}`, `{{#if}}`, `{{#each}}`,
nested data). A simple `{{name}}` with no value in the data is a rendering
failure, "Attribute 'name' is not present in the rendering data." -- the text
SES puts in its Rendering Failure events and TestRenderTemplate answers.

Pure apart from pybars3 (which compiles a template to Python code): no I/O, no
clock. Errors are the AWS errors to answer (core.errors), so each API renders
them in its own protocol.
"""
from __future__ import annotations

import re
import sys
import threading
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

_compile_lock = threading.Lock()


@lru_cache(maxsize=1)
def _pybars():
    """pybars3, imported when a template is first compiled: its grammar is built at import
    (~0.4 s of CPU), which a start-up need not pay. Returns (the module, a compiler)."""
    import pybars

    return pybars, pybars.Compiler()


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
        raise _pybars()[0].PybarsError(f"Could not find helper {name}")
    raise _Missing(name)


_HELPERS = {"helperMissing": _helper_missing}
# {{#each}} iterations one message's render (its parts together) may make: nested loops
# multiply (a 4,000-item list iterated inside itself is 16 million), and the data may hold
# 262,144 characters of list.
MAX_EACH_ITERATIONS = 100_000


class _TooMuchWork(Exception):
    pass


@lru_cache(maxsize=1)
def _builtin_each():
    return _pybars()[0]._compiler._pybars_["helpers"]["each"]


def _helpers() -> dict:
    """The helpers of one message's render: SES's missing-attribute rule, and pybars' own `each`
    counted against MAX_EACH_ITERATIONS (a helper given by name replaces pybars' built-in)."""
    builtin = _builtin_each()
    spent = 0

    def each(this, options, context):
        nonlocal spent
        spent += len(context) if isinstance(context, (list, dict, str)) else 0
        if spent > MAX_EACH_ITERATIONS:
            raise _TooMuchWork()
        return builtin(this, options, context)

    return {**_HELPERS, "each": each}


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
    with _compile_lock:
        try:
            function = _pybars()[1].compile(source)
        except Exception as exc:  # PyMeta's ParseError and pybars' own
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # pybars registers a module per template; the function keeps its globals alive.
        sys.modules.pop(function.__module__, None)
        return function


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


def _render_part(source: str | None, data: dict, helpers: dict) -> str | None:
    if source is None:
        return None
    template = _compiled(source)
    try:
        return str(template(data, helpers=helpers))
    except _TooMuchWork:
        raise InvalidTemplate(f"The template could not be rendered: its {{{{#each}}}} blocks would make more than "
                              f"{MAX_EACH_ITERATIONS:,} iterations.") from None
    except _Missing as missing:
        raise MissingRenderingAttribute(f"Attribute '{missing.name}' is not present in the rendering data.") from None
    except (_pybars()[0].PybarsError, RecursionError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise InvalidTemplate(f"The template could not be rendered: {exc}") from None


def render(content: TemplateContent, data: dict) -> TemplateContent:
    """Each part rendered with the data (Handlebars semantics: `{{x}}` HTML-escapes)."""
    helpers = _helpers()  # one budget for the message's parts
    return TemplateContent(_render_part(content.subject, data, helpers), _render_part(content.text, data, helpers),
                           _render_part(content.html, data, helpers))


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
