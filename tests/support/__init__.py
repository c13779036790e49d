"""Shared test code: builders of realistic events and a worker running in a thread."""
