"""A property-based shape test to copy into your project (run it with pytest).

For every input size the network accepts, the compiled module produces exactly the shapes the spec
promises; hypothesis searches the admissible sizes (their ends first) for a counterexample.
Running on the `meta` device makes this cheap even for large networks: nothing is computed.
"""

from pathlib import Path

from hypothesis import given, settings

from alexnet_dsl.testing import admissible_inputs, assert_shapes

SPEC = Path(__file__).resolve().parent.parent / "specs" / "alexnet_hw.net"  # H, W symbolic: 227..258


@settings(max_examples=20, deadline=None)
@given(admissible_inputs(SPEC, batch=2))
def test_alexnet_shapes_hold_for_every_admissible_input(shape):
    assert_shapes(SPEC, shape)
