"""Roleplay plugin `chat`."""
