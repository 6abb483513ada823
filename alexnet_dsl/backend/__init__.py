"""IR to a PyTorch module: fusion, the forward plan, code generation, building."""
