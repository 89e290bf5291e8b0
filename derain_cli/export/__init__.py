"""Exporting deraining networks for runtimes outside Python (ONNX: ONNX Runtime, TensorRT, OpenVINO)."""
