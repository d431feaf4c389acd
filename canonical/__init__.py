"""The canonical customs data model: ENS filings, declarations, control results.

Every other package reads data in this form. Source systems reach it through
``canonical.ingest`` (a mapping per source); the synthetic world of ``synth``
writes it directly.
"""
