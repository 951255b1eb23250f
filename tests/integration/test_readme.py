"""The README's walk-throughs run as written, top to bottom, against a fresh server.

The convention in README.md:

- `<!-- walkthrough: NAME -->` on the line right before a ```console block marks the
  block as runnable. Blocks with the same NAME are one walk-through: they run in
  README order in one bash shell (so `export` carries over), and each walk-through
  is one test here. A walk-through that uses the running simulator starts by
  resetting it, so it does not depend on what the sections before it did. Unmarked blocks are illustrations only.
- In a block, a line starting with `$ ` is a command (a line ending in `\\` goes
  on with the next one); the lines up to the next command are its expected
  output, stdout and stderr together (a command with none must print nothing).
- Expected output is matched modulo: a line that is only `...` stands for any
  number of lines, `...` inside a line for any text, and ids and times (message
  ids, UUIDs, RFC 3339 timestamps, clock readings, verification tokens, record
  ids, dig's query id) are normalised on both sides, and CRLF line ends (a raw
  message's) read as LF, as a terminal shows them.

The test starts `mailfrom-sim serve` on free ports with an in-memory database
and rewrites 8587 and 8553 in commands and outputs to those ports; commands run
in the repository root with this interpreter's bin directory first on PATH (as
after `source .venv/bin/activate`), `.venv/bin/` rewritten to it, and no AWS_*
variables or AWS config files from the environment. A walk-through whose tool
(`aws`, `curl`, `dig`, ...) is missing is skipped, naming the tool.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import SimulatorProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
MARK = re.compile(r"<!-- walkthrough: ([\w-]+) -->\n```console\n(.*?)\n```", re.S)

NORMALISE = [  # (pattern, replacement), applied to expected and actual output alike
    (re.compile(r"\r(?=\n|\Z)"), ""),  # a raw message's CRLF lines, as a terminal shows them
    (re.compile(r"\b[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9a-f]{6}\b"),
     "<message-id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r'("(?:now|at)": )\d+(?:\.\d+)?'), r"\1<time>"),
    (re.compile(r'("VerificationToken": )"[A-Za-z0-9+/=]{44}"'), r'\1"<token>"'),
    (re.compile(r'("id": )"[0-9a-f]+"'), r'\1"<id>"'),
    (re.compile(r"(opcode: QUERY, status: \w+, id: )\d+"), r"\1<n>"),
]


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Walkthrough:
    name: str
    steps: list[Step] = field(default_factory=list)


def walkthroughs(text: str) -> list[Walkthrough]:
    found: dict[str, Walkthrough] = {}
    for match in MARK.finditer(text):
        walk = found.setdefault(match.group(1), Walkthrough(match.group(1)))
        lines = iter(match.group(2).split("\n"))
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):  # bash joins the lines itself
                    command += "\n" + next(lines)
                walk.steps.append(Step(command))
            elif not walk.steps:
                raise ValueError(f"walk-through {walk.name}: output before any command: {line!r}")
            else:
                walk.steps[-1].expected.append(line)
    return list(found.values())


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def matches(expected: list[str], actual: str) -> bool:
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*?".join(re.escape(piece) for piece in normalise(line).split("...")) + r"\n")
    body = normalise(actual).rstrip("\n")
    return re.fullmatch("".join(parts), body + "\n" if body else "") is not None


def tools(walk: Walkthrough) -> set[str]:
    return {step.command.split()[0] for step in walk.steps if step.command.split()}


class Shell:
    """One bash process; each command's combined output up to a sentinel line."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.sentinel = f"__walkthrough_{uuid.uuid4().hex}__"

    def run(self, command: str, timeout: float = 90) -> str:
        self.process.stdin.write(f"{command}\nprintf '\\n%s\\n' {self.sentinel}\n")
        self.process.stdin.flush()
        buffer, fd = b"", self.process.stdout.fileno()
        end = f"\n{self.sentinel}\n".encode()
        while end not in buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise AssertionError(f"no end of output after {timeout} s: {command}\n{buffer.decode()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"the shell exited during: {command}\n{buffer.decode()}")
            buffer += chunk
        return buffer[: buffer.index(end)].decode().rstrip("\n")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


WALKTHROUGHS = walkthroughs(README.read_text(encoding="utf-8"))


def test_the_readme_has_walkthroughs():
    assert [w.name for w in WALKTHROUGHS] and all(w.steps for w in WALKTHROUGHS)
    for walk in WALKTHROUGHS:  # one that uses the running simulator starts by emptying it
        if any("8587" in step.command for step in walk.steps):
            assert walk.steps[0].command.startswith("curl -s -X POST localhost:8587/_sim/reset"), walk.name


def test_the_matcher_is_strict_where_it_should_be():
    assert matches(["a", "...", "z"], "a\nb\nc\nz")
    assert matches(['{"id": "5d26caaa", ...}'], '{"id": "0badf00d", "x": 1}')
    assert not matches(["a", "z"], "a\nb\nz")
    assert not matches([], "unexpected output")
    assert not matches(['"SUCCESS"'], '"PENDING"')


@pytest.fixture(scope="module")
def server():
    process = SimulatorProcess("--db", ":memory:").start()
    yield process
    process.stop()


@pytest.mark.parametrize("walk", WALKTHROUGHS, ids=[w.name for w in WALKTHROUGHS])
def test_walkthrough(walk: Walkthrough, server, tmp_path):
    missing = sorted(tool for tool in tools(walk) - {"export", "cd", "for"}
                     if not tool.startswith(".venv/") and not shutil.which(tool, path=f"{BIN}:{os.environ['PATH']}"))
    if missing:
        pytest.skip(f"walk-through {walk.name} needs {', '.join(missing)} (not installed)")
    port, dns_port = server.url.rsplit(":", 1)[1], server.dns.rsplit(":", 1)[1]

    def localise(text: str) -> str:
        text = re.sub(r"\b8587\b", port, re.sub(r"\b8553\b", dns_port, text))
        return text.replace(".venv/bin/", f"{BIN}/")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAILFROM_SIM_"))}
    env.update(PATH=f"{BIN}:{env['PATH']}", HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    shell = Shell(env)
    try:
        for number, step in enumerate(walk.steps, 1):
            actual = shell.run(localise(step.command))
            expected = [localise(line) for line in step.expected]
            assert matches(expected, actual), (
                f"walk-through {walk.name}, command {number}: $ {step.command}\n"
                f"--- README expects:\n" + "\n".join(step.expected) + f"\n--- got:\n{actual}")
    finally:
        shell.close()
