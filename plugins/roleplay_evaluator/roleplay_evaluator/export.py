"""A finished report as Markdown, for people (the JSON export is the API's own shape)."""

from __future__ import annotations

from .report import Evaluation, Report


def _quote(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(evaluation: Evaluation, report: Report) -> str:
    stats = report.statistics
    lines = [
        f"# Evaluation: {report.scenario_title}",
        "",
        f"- Overall score: **{report.overall_score}/100** "
        f"({'passed' if report.passed else 'not passed'}; pass mark {report.passing_score})",
        f"- Session: `{report.session_id}`, messages up to #{report.upto_seq}",
        f"- Evaluated: {report.created_at.isoformat()} by {report.evaluator} (roleplay-evaluator "
        f"{report.evaluator_version})",
        f"- Script version: {report.script_version or 'unknown'}, rubric {report.rubric_digest}",
        f"- Confidence: {round(report.confidence * 100)}%"
        + (" — **a human review is recommended**" if report.needs_human_review else ""),
        "",
    ]
    if report.notes:  # how it was judged (or that no model was), before any score is read
        lines += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    lines += ["## Criteria", ""]
    for result in report.criteria:
        score = "not scored" if result.score is None else f"{result.score:g}/100"
        lines += [
            f"### {result.title} — {score} (weight {result.weight:g})",
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
            lines += [f"**Say this instead:** {result.suggestion}", ""]
    for heading, items in (("Strengths", report.strengths), ("To improve", report.improvements),
                           ("Next steps", report.next_steps)):
        if items:
            lines += [f"## {heading}", "", *(f"- {item}" for item in items), ""]
    duration = f"{stats.duration_seconds:g} s" if stats.duration_seconds is not None else "unknown"
    lines += [
        "## Statistics",
        "",
        "| Turns (you / character) | Words (you / character) | Your talk share | Questions (open / closed) "
        "| Duration |",
        "|---|---|---|---|---|",
        f"| {stats.learner_turns} / {stats.character_turns} | {stats.learner_words} / {stats.character_words} "
        f"| {round(stats.talk_share * 100)}% | {stats.open_questions} / {stats.closed_questions} | {duration} |",
        "",
    ]
    return "\n".join(lines)
