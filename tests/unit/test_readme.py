"""The README's state diagram is the one generated from the transition table."""
import re
from pathlib import Path

from simulator.core.machine import mermaid_diagram


def test_the_readme_diagram_is_generated_from_the_table():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"<!-- diagram:start -->\n```mermaid\n(.*?)\n```\n<!-- diagram:end -->", readme, re.S)
    assert block and block.group(1) == mermaid_diagram()


def test_the_readme_verification_diagram_is_generated_from_its_table():
    from simulator.core.machine import verification_mermaid_diagram

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"<!-- verification-diagram:start -->\n```mermaid\n(.*?)\n```\n<!-- verification-diagram:end -->",
                      readme, re.S)
    assert block and block.group(1) == verification_mermaid_diagram()
