"""Roleplay plugin `scripter`."""
