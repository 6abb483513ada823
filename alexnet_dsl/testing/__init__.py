"""Property-based shape testing with hypothesis.

    from hypothesis import given
    from alexnet_dsl.testing import admissible_inputs, assert_shapes

    @given(admissible_inputs("specs/alexnet_hw.net", batch=2))
    def test_every_admissible_input_gives_the_promised_shapes(shape):
        assert_shapes("specs/alexnet_hw.net", shape)

- `admissible_inputs(spec, batch=...)`: input shapes the network accepts, drawn from the checker's
  exact admissible sets (every draw is valid; the ends of each range are drawn often);
- `networks(...)`: random valid specs, sequential or with branches, with the shapes the checker
  predicts for them;
- `broken_networks(...)`: specs with one known mistake, its code and the line it is on;
- `assert_shapes(spec_or_module, input_shape)`: run the compiled module (on the `meta` device by
  default) and fail with a layer-by-layer table when a shape differs from the static prediction.

Needs hypothesis (and torch for `assert_shapes`). The strategies live in `inputs.py` and
`networks.py`, `assert_shapes` in `shapes.py`; import them from here.
"""

from __future__ import annotations

from alexnet_dsl.extras import needs

with needs("alexnet_dsl.testing"):  # one line naming the `test` extra, not a bare ModuleNotFoundError
    from alexnet_dsl.testing.inputs import admissible_inputs
    from alexnet_dsl.testing.networks import BrokenNetwork, GeneratedNetwork, broken_networks, networks
    from alexnet_dsl.testing.shapes import assert_shapes

__all__ = [
    "BrokenNetwork",
    "GeneratedNetwork",
    "admissible_inputs",
    "assert_shapes",
    "broken_networks",
    "networks",
]
