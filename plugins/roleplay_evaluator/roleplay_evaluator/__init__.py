"""Roleplay plugin `evaluator`."""
