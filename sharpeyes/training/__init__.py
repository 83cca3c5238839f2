"""`sharpeyes train`: a fire/smoke YOLO model from a YOLO-format dataset (e.g. D-Fire), exported to ONNX.

ultralytics does the training; this package finds the dataset's splits, writes the data YAML, keeps
ultralytics from fetching anything, and checks the export loads in our own `onnx` detector backend.
"""
