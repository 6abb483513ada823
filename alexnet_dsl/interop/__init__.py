"""Other formats: ONNX export and shape comparison, weights, torch import."""
