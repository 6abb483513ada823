"""IR to a PyTorch module: fuse, the forward plan (plan.py), each op's code (op_code.py), Python names
(names.py), codegen with its source map, the runtime it copies in verbatim (prelude.py, runtime/), and
build with its memory budget (budget.py)."""
