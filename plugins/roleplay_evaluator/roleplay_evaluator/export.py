"""A finished report as Markdown, for people (the JSON export is the API's own shape), in the report's language."""

from __future__ import annotations

from .messages import say
from .report import Evaluation, Report


def _quote(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(evaluation: Evaluation, report: Report) -> str:
    stats = report.statistics
    lang = report.language

    def t(key: str, **values: object) -> str:
        return say(lang, f"md.{key}", **values)

    lines = [
        f"# {t('title', title=report.scenario_title)}",
        "",
        "- " + t("overall", score=report.overall_score,
                 verdict=t("passed") if report.passed else t("not_passed"), bar=report.passing_score),
        "- " + t("session", session=report.session_id, upto=report.upto_seq),
        f"- {t('evaluated', when=report.created_at.isoformat(), evaluator=report.evaluator)} (roleplay-evaluator "
        f"{report.evaluator_version})",
        "- " + t("script", version=report.script_version or "?", digest=report.rubric_digest),
        "- " + t("confidence", percent=round(report.confidence * 100))
        + (" — **" + t("review") + "**" if report.needs_human_review else ""),
        "",
    ]
    if report.notes:  # how it was judged (or that no model was), before any score is read
        lines += [f"## {t('notes')}", "", *(f"- {note}" for note in report.notes), ""]
    lines += [f"## {t('criteria')}", ""]
    for result in report.criteria:
        score = t("not_scored") if result.score is None else f"{result.score:g}/100"
        lines += [
            f"### {result.title} — {score} ({t('weight', weight=f'{result.weight:g}')})",
            "",
            result.justification,
            "",
        ]
        if result.judged_how:
            lines += [f"*{result.judged_how}*", ""]
        for quote in result.evidence:
            lines.append(f"> #{quote.seq}: \u201c{_quote(quote.quote)}\u201d")
        if result.evidence:
            lines.append("")
        if result.suggestion:
            lines += [f"**{t('say_instead')}** {result.suggestion}", ""]
    for heading, items in (("strengths", report.strengths), ("improve", report.improvements),
                           ("next_steps", report.next_steps)):
        if items:
            lines += [f"## {t(heading)}", "", *(f"- {item}" for item in items), ""]
    duration = f"{stats.duration_seconds:g} s" if stats.duration_seconds is not None else "?"
    lines += [
        f"## {t('statistics')}",
        "",
        t("stats_header"),
        "|---|---|---|---|---|",
        f"| {stats.learner_turns} / {stats.character_turns} | {stats.learner_words} / {stats.character_words} "
        f"| {round(stats.talk_share * 100)}% | {stats.open_questions} / {stats.closed_questions} | {duration} |",
        "",
    ]
    return "\n".join(lines)
