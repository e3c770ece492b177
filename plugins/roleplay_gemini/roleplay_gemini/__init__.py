"""Roleplay plugin `gemini`: the Gemini model provider built on google-genai."""
