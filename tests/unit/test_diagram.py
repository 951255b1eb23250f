"""The dashboard's state diagram is drawn from the machine's table."""
import re

from simulator.core.machine import TRANSITIONS
from simulator.core.model import MailFromStatus
from simulator.dashboard.diagram import state_diagram_svg


def test_every_transition_of_the_table_is_drawn_and_the_current_state_is_marked():
    svg = state_diagram_svg(MailFromStatus.PENDING)
    labels = re.findall(r'class="edge-label[^"]*"[^>]*>([^<]+)<', svg)
    drawn = {event for label in labels for event in label.split(", ")}
    assert drawn >= {event for row in TRANSITIONS.values() for event in row}
    assert re.findall(r'class="node status-(\w+) current"', svg) == ["PENDING"]
    hot = len(re.findall(r'class="edge hot"', svg))
    assert hot == len({target for target in TRANSITIONS[MailFromStatus.PENDING].values()})
    assert " current\"" not in state_diagram_svg(None)
