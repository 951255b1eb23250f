"""For one measurement only: how fast a bulk send could go if rendering cost nothing
(bench_bulk's "rendering memoised" row). Never used by the simulator itself.

`install()` wraps `simulator.mail.templates.render` in this process with a memo keyed on
the template and the data: the first time a (template, data) pair is seen pybars
renders it as usual, later the same text comes back from a dict. bench_bulk sends the
same 50 entries again and again, so after its warm-up the row differs from the real one
only in what rendering costs (the text, the checks, the decision and the stored rows are
the same).
"""
from __future__ import annotations

from pathlib import Path

# What a simulator child runs before its CLI (common.Simulator's prelude) to be measured so.
PRELUDE = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
           "import render_bound; render_bound.install()")


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def install() -> None:
    from simulator.mail import templates

    render, memo = templates.render, {}

    def memoised(content, data):
        key = (content, _frozen(data))
        rendered = memo.get(key)
        if rendered is None:
            rendered = memo[key] = render(content, data)
        return rendered

    templates.render = memoised
