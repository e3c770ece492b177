"""Roleplay's kernel: a small Starlette core that plugins extend through pluggy hooks.

The names below are the public API plugins may rely on.
"""

from .app import create_app
from .catalog import PublishedScript, ScriptCatalog, language_matches
from .errors import FieldError, Problem, validation_problem
from .hookspecs import hookimpl, hookspec
from .identity import AuthProvider, ExternalIdentity
from .judging import JudgePrompt, build_judge_prompt, estimate_tokens
from .kernel import SERVICE_RESTART, Kernel, SettingsError, maybe_await, reconnect_frame
from .live import (
    AudioChunk,
    GoAway,
    Interrupted,
    LiveEvent,
    LiveRequest,
    LiveSession,
    SessionResumed,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
)
from .models import (
    CriterionJudgement,
    Evidence,
    Judgement,
    JudgeRequest,
    ModelProvider,
    NotSupported,
    ProviderError,
    Reply,
    ReplyDelta,
    ReplyRequest,
    RuleFinding,
)
from .plugins import PluginError, PluginInfo
from .principal import ANONYMOUS, ROLES, Anonymous, Principal
from .script import (
    Beat,
    Character,
    Check,
    Criterion,
    EndCondition,
    Fallback,
    Rubric,
    Script,
    ScriptedPlay,
    script_from_dict,
    script_to_dict,
)
from .security import authenticate_websocket, current_principal, requires_role, requires_user
from .serialization import JSON, converter, parse_body, query_int, read_json, structure, unstructure
from .settings import Settings
from .storage import Event, EventLog, NotFound, PreconditionFailed, Storage, StorageError
from .tokens import InvalidToken, TokenService
from .transcript import Transcript, TranscriptMessage

__all__ = [
    "ANONYMOUS",
    "ROLES",
    "Anonymous",
    "AudioChunk",
    "AuthProvider",
    "Beat",
    "Character",
    "Check",
    "Criterion",
    "CriterionJudgement",
    "EndCondition",
    "Event",
    "EventLog",
    "Evidence",
    "ExternalIdentity",
    "Fallback",
    "FieldError",
    "GoAway",
    "Interrupted",
    "InvalidToken",
    "JSON",
    "JudgePrompt",
    "JudgeRequest",
    "Judgement",
    "Kernel",
    "SERVICE_RESTART",
    "reconnect_frame",
    "LiveEvent",
    "LiveRequest",
    "LiveSession",
    "ModelProvider",
    "NotFound",
    "NotSupported",
    "PluginError",
    "PluginInfo",
    "PreconditionFailed",
    "Principal",
    "Problem",
    "ProviderError",
    "PublishedScript",
    "Reply",
    "ReplyDelta",
    "ReplyRequest",
    "Rubric",
    "RuleFinding",
    "Script",
    "ScriptCatalog",
    "ScriptedPlay",
    "SessionResumed",
    "Settings",
    "SettingsError",
    "Storage",
    "StorageError",
    "TokenService",
    "Transcript",
    "TranscriptDelta",
    "TranscriptFinal",
    "TranscriptMessage",
    "TurnComplete",
    "authenticate_websocket",
    "build_judge_prompt",
    "converter",
    "create_app",
    "current_principal",
    "estimate_tokens",
    "hookimpl",
    "hookspec",
    "language_matches",
    "maybe_await",
    "parse_body",
    "query_int",
    "read_json",
    "requires_role",
    "requires_user",
    "script_from_dict",
    "script_to_dict",
    "structure",
    "unstructure",
    "validation_problem",
]
