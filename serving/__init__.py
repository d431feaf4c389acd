"""Scoring: batch scoring with a model bundle (``serving.scoring``) and the API."""
