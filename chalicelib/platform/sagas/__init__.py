"""Sagas: `modules.sagas` run step by step, compensated on failure."""
