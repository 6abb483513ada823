"""Other formats: ONNX export (`onnx_export`, with the stand-ins of `onnx_ops` and the shape comparison of
`onnx_shapes`), weights (`weights`), and PyTorch modules as specs (`torch_import`, one call at a time by
`torch_ops`)."""
