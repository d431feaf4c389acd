"""Training and evaluation of the targeting models, tracked in MLflow.

Only the command line imports this package (an import-linter contract).
"""
