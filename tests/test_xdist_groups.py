"""The suite's shared fixtures rely on pytest-xdist's ``xdist_group``: one worker runs a group.

pytest 9.2 silently broke that (pytest-dev/pytest-xdist#1386): tests kept their marks but were
spread over both workers, so the training runs shared through session fixtures ran twice.
"""

import pytest


@pytest.mark.xdist_group("probe")
def test_a_grouped_test_carries_its_group_to_the_scheduler(request):
    if not hasattr(request.config, "workerinput"):
        pytest.skip("not running under pytest-xdist (-n 0)")
    # The loadgroup scheduler reads the group from this suffix of the node id.
    assert request.node.nodeid.endswith("@probe"), (
        "xdist_group has no effect with this pytest and pytest-xdist: check the pins in "
        "requirements-dev.txt"
    )
