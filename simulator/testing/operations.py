"""Which operations of the SES v2, Pinpoint Email and SES v1 models the simulator serves.

Generated, never hand-kept: every operation of the botocore service models is
looked up in the live Flask app -- a rest-json operation is served when its HTTP
method and request URI (placeholders filled in) match a route outside `/_sim`
whose path variables take exactly the placeholders' values; a query operation
is served when the query API dispatches its `Action`.

    python -m simulator.testing.operations                 # print the README section
    python -m simulator.testing.operations --write README.md
    python -m simulator.testing.operations --check README.md   # exit 1 when stale
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

START, END = "<!-- operations:start -->", "<!-- operations:end -->"
APIS = (("sesv2", "SES v2"), ("pinpoint-email", "Pinpoint Email"), ("ses", "SES v1"))
_PLACEHOLDER = re.compile(r"\{([^}]+?)(\+?)\}")


def _model(service: str):
    from ..models import service_model

    return service_model(service)


def _url_adapter():
    from ..api.app import create_app

    return create_app(None).url_map.bind("localhost")  # routes only: nothing is served


def rest_json_served(adapter, method: str, request_uri: str) -> bool:
    from werkzeug.exceptions import HTTPException

    values: list[tuple[str, bool]] = []

    def fill(match: re.Match) -> str:
        value = f"placeholder{len(values)}" + ("/more" if match.group(2) else "")
        values.append((value, bool(match.group(2))))
        return value

    path = _PLACEHOLDER.sub(fill, request_uri.split("?", 1)[0])
    try:
        endpoint, arguments = adapter.match(path, method=method)
    except HTTPException:
        return False
    if endpoint.startswith(("control.", "query.")):
        return False
    taken = sorted(str(v) for k, v in arguments.items() if k != "api")
    return taken == sorted(value for value, _ in values)  # e.g. <path:identity> must not swallow "/policies"


def served_operations() -> dict[str, dict[str, bool]]:
    """{service: {operation: served}} for the three models."""
    from ..api.query import OPERATIONS

    adapter = _url_adapter()
    table: dict[str, dict[str, bool]] = {}
    for service, _ in APIS:
        model = _model(service)
        if model.metadata["protocol"] == "query":
            table[service] = {name: name in OPERATIONS for name in model.operation_names}
        else:
            table[service] = {
                name: rest_json_served(adapter, model.operation_model(name).http["method"],
                                       model.operation_model(name).http["requestUri"])
                for name in model.operation_names}
    return table


def render(table: dict[str, dict[str, bool]]) -> str:
    counts = " · ".join(f"{title} {sum(table[s].values())} of {len(table[s])}" for s, title in APIS)
    names = sorted(set().union(*(table[s] for s, _ in APIS)))
    rows = [f"| {name} | " + " | ".join(
        ("**served**" if table[s][name] else "not served") if name in table[s] else "" for s, _ in APIS) + " |"
        for name in names]
    served_names = ", ".join(f"`{n}`" for n in names if any(table[s].get(n) for s, _ in APIS))
    return "\n".join([
        START,
        f"Served: {counts}: {served_names}.",
        "",
        "<details><summary>Every operation of the three botocore models</summary>",
        "",
        "| Operation | " + " | ".join(title for _, title in APIS) + " |",
        "|---|---|---|---|",
        *rows,
        "",
        "</details>",
        END,
    ])


def splice(text: str, section: str) -> str:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} ... {END} markers")
    return text[:start] + section + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.testing.operations", description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="README", help="replace the section between the markers in this file")
    parser.add_argument("--check", metavar="README", help="exit 1 if this file's section is not current")
    args = parser.parse_args(argv)
    section = render(served_operations())
    target = args.write or args.check
    if target is None:
        print(section)
        return 0
    text = Path(target).read_text(encoding="utf-8")
    updated = splice(text, section)
    if args.check:
        if updated != text:
            print(f"{target}: the operations table is stale; run python -m simulator.testing.operations "
                  f"--write {target}", file=sys.stderr)
            return 1
        return 0
    Path(target).write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
