"""A local HealthOmics endpoint and helpers for testing code that waits on jobs."""
