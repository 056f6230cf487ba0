"""The plain-Python client of the backend: no bpy, standard library only (docs/ARCHITECTURE.md).

``contract`` (a byte-identical copy of backend/contract.py), ``http`` (the HTTP API),
``backend_process`` (start, find and stop the backend server), ``remote_job`` (one job as a state
machine), ``safe_unzip`` (result bundles from zips), ``env_installer`` (the backend's venv) and
``batch`` (input lists and bundle folders of a batch run).
"""
