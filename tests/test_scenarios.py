"""Every scenario file in scenarios/ runs as one test (named after the file), against
the session's live simulator; a failure shows the steps run and the step that failed."""
from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios.loader import collect
from simulator.scenarios.runner import Runner

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIOS = collect([SCENARIO_DIR])


@pytest.fixture(scope="module")
def scenario_runner(runtime) -> Runner:
    # One runner for the module, so its boto3 clients are built once; each scenario resets the simulator.
    return Runner(runtime.url)


def test_the_library_is_not_empty():
    assert len(SCENARIOS) >= 15


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_each_scenario_opens_with_why_it_matters(path: Path):
    """scenarios/README asks every file to open with the reason a reader should care."""
    assert path.read_text(encoding="utf-8").startswith("# Why it matters: ")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(scenario_runner: Runner, path: Path):
    result = scenario_runner.run_file(path)

    if not result.passed:
        pytest.fail(result.report, pytrace=False)
