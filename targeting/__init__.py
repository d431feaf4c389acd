"""The ``targeting`` command line and its settings: the edge of the service."""
