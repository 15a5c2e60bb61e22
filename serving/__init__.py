"""pipeport serving: the ONNX file behind HTTP (Flask + gunicorn) and offline batch scoring.

Imports only onnxruntime, numpy, flask, gunicorn and the standard library: a server image needs
no scikit-learn, pandas or scipy. Submodules are imported on demand.
"""
