"""Roleplay plugin `openai`: one model provider for every OpenAI-compatible server, built on the openai SDK."""
