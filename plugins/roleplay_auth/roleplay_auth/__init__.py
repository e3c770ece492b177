"""Roleplay plugin `auth`."""
