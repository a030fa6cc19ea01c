"""Pieces shared by the API and the worker: settings, the error root, storage."""
