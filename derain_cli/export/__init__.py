"""Exporting deraining networks for runtimes outside Python (ONNX: ONNX Runtime, TensorRT, OpenVINO).

The constants here are what the command line shows in its help; they import nothing heavy.
"""

OPSET = 17  # read by ONNX Runtime, OpenVINO and TensorRT 8.6 and later
MAX_GREY_LEVELS = 1.0  # an export whose ONNX Runtime output differs more from Derainer fp32 is refused
