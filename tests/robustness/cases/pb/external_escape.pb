BXj
location../not_onnx.onnxp