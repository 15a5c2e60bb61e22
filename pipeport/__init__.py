"""pipeport: one scikit-learn pipeline -> one ONNX graph -> served and proven equal."""

__version__ = "0.1.0"
