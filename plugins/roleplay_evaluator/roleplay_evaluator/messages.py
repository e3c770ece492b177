"""Report text in the learner's language: English, Spanish and Traditional Chinese.

Every sentence a report shows a learner comes from :data:`CATALOGUE` through
:func:`say`, so the three languages cannot drift apart (a test checks that
each key exists in each language with the same placeholders). A session in
another language reads the English text.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Languages with a full catalogue; anything else reads English.
LANGUAGES = ("en", "es", "zh-Hant")

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        # How each criterion was judged.
        "how.phrases_used": "Checked for phrases such as {examples}.",
        "how.phrases_avoided": "Checked that nothing like {examples} was said.",
        "how.open_questions": "Counted your open and closed questions.",
        "how.beat_reached": "Checked what you did in the conversation: {labels}.",
        "how.model": "Judged by the language model ({model}).",
        "how.fallback": "The language model could not judge this; checked by the built-in rules instead.",
        "how.not_scored": "Needs a language model; not scored.",
        "how.mechanical": "Always checked by the built-in rules, as the scenario's author asked.",
        "how.offline": "No language model was set, so the rules the scenario's author chose stood in: {how}",
        # Justifications.
        "used.some": "You said {count} of the {total} things this looks for ({said}); {needed} needed.",
        "used.missing": "Not heard: {missing}.",
        "used.repeated": "You said the same sentence word for word in {count} messages: that reads as a script, "
                         "not a response, so it counts as half.",
        "used.none": "None of what this looks for came up, such as {missing}.",
        "used.empty": "The rubric lists nothing to look for here.",
        "used.softened": "Said only in the same sentence as something the rubric warns against, which does not "
                         "count: {said}.",
        "avoided.clean": "You avoided everything the rubric warns against.",
        "avoided.slips": "You said {count} thing(s) the rubric warns against: {said}.",
        "questions": "You asked {open} open question(s) ({needed} needed) and {closed} closed one(s).",
        "beats.done": "You {done}.",
        "beats.count": "{count} of the {needed} needed.",
        "beats.missing": "Not yet: {missing}.",
        "beats.none": "This did not happen yet: {missing}.",
        "beats.empty": "The rubric names nothing to do for this criterion.",
        "beats.taken_back": "You {done}, but later took it back: \u201c{quote}\u201d.",
        "beats.said_like": "said something like \u201c{phrase}\u201d",
        "not_scored": "Only a language model can judge this (set evaluator.model); it is left out of the "
                      "overall score.",
        # Suggestions.
        "suggest.say": "Try saying: \u201c{phrase}\u201d.",
        "suggest.leave_out": "Leave out \u201c{phrase}\u201d; say what you will do instead.",
        "suggest.open": "Ask open questions that invite a story, for example \u201cWhat happened, from your "
                        "point of view?\u201d or \u201cHow has this affected you?\u201d",
        # Notes at the top of the report.
        "note.no_model": "No language model was used: every criterion was checked by the built-in rules.",
        "note.not_scored": "Left out of the overall score because they need a language model: {titles}.",
        "note.short": "The conversation is short, so the scores say little yet.",
        "note.contempt": "The score is capped at {cap}, below the pass mark: you mocked, belittled or threatened "
                         "the other person ({said}). Whatever else went well, that fails the conversation.",
        "feedback.contempt": "Stay respectful even when you disagree or are under pressure: leave out {said}.",
        "note.required": "The score is capped at {cap}, below the pass mark: this scenario cannot be passed without "
                         "{titles}, and little or none of it was shown. However well the rest went, that comes first.",
        "note.required_below": "This scenario cannot be passed without {titles}, and little or none of it was shown.",
        "note.rough_questions": "Open and closed questions are only told apart roughly in \u2018{tag}\u2019.",
        "note.no_criteria": "The scenario's rubric has no criteria; there is nothing to score.",
        # Feedback.
        "feedback.strength": "{title}: {justification}",
        "feedback.improve": "{title} ({score}/100): {justification}",
        "feedback.step": "{title}: {suggestion}",
        "feedback.listen": "Listen more: you said {share}% of the words. Ask, then let the other person talk.",
        "feedback.open": "Turn closed questions into open ones: start with what, how, or \u201ctell me about\u201d.",
        "feedback.passed": "You met the rubric: try this scenario again at a harder level, or another scenario.",
        "feedback.again": "Practise this scenario again, aiming at the criteria above.",
        "judge.justification": "Judged by the language model.",
        "judge.dropped": " ({count} quoted line(s) were not found in the transcript and were dropped.)",
        "judge.dropped_note": "{count} quote(s) from the language model were not found verbatim in the transcript "
                              "and were dropped; confidence is lower.",
        "judge.not_judged": "The language model did not judge \u2018{criterion}\u2019; the rule-based result stands.",
        "judge.fallback": "The language model ({provider}) {reason}; the criteria {ids} were scored by the "
                          "rule-based checks instead.",
        "judge.timeout": "did not answer within {seconds:g} seconds",
        "judge.malformed": "gave a malformed answer ({detail})",
        "judge.unavailable": "is not available ({detail})",
        "judge.failed": "failed ({detail})",
        "judge.disagreement": "\u2018{title}\u2019: the language model scored {judge:g} and the rule-based checks "
                              "{rules:g}, {points:g} points apart; a person should review this criterion.",
        "judge.window": "The conversation is long: the language model read messages up to {head} and from {tail} "
                        "on; {count} message(s) in between were left out of its prompt (the rule-based checks read "
                        "them all).",
        "md.title": "Evaluation: {title}",
        "md.overall": "Overall score: **{score}/100** ({verdict}; pass mark {bar})",
        "md.passed": "passed",
        "md.not_passed": "not passed",
        "md.session": "Session: `{session}`, messages up to #{upto}",
        "md.evaluated": "Evaluated: {when} by {evaluator}",
        "md.script": "Script version: {version}, rubric {digest}",
        "md.confidence": "Confidence: {percent}%",
        "md.review": "a human review is recommended",
        "md.notes": "Notes",
        "md.criteria": "Criteria",
        "md.not_scored": "not scored",
        "md.weight": "weight {weight}",
        "md.say_instead": "Say this instead:",
        "md.strengths": "Strengths",
        "md.improve": "To improve",
        "md.next_steps": "Next steps",
        "md.statistics": "Statistics",
        "md.stats_header": "| Turns (you / character) | Words (you / character) | Your talk share | Questions (open / "
                           "closed) | Duration |",
        "list.and": " and ",
    },
    "es": {
        "how.phrases_used": "Se buscaron frases como {examples}.",
        "how.phrases_avoided": "Se comprobó que no dijera nada como {examples}.",
        "how.open_questions": "Se contaron sus preguntas abiertas y cerradas.",
        "how.beat_reached": "Se comprobó lo que hizo en la conversación: {labels}.",
        "how.model": "Evaluado por el modelo de lenguaje ({model}).",
        "how.fallback": "El modelo de lenguaje no pudo evaluarlo; se comprobó con las reglas integradas.",
        "how.not_scored": "Necesita un modelo de lenguaje; sin puntuar.",
        "how.mechanical": "Siempre se comprueba con las reglas integradas, como pidió el autor del escenario.",
        "how.offline": "Sin modelo de lenguaje, se usaron las reglas que eligió el autor del escenario: {how}",
        "used.some": "Dijo {count} de las {total} cosas que se buscan ({said}); se necesitaban {needed}.",
        "used.missing": "No se oyó: {missing}.",
        "used.repeated": "Dijo la misma frase, palabra por palabra, en {count} mensajes: suena a guion, no a una "
                         "respuesta, así que cuenta la mitad.",
        "used.none": "No apareció nada de lo que se busca, como {missing}.",
        "used.empty": "La rúbrica no indica nada que buscar aquí.",
        "used.softened": "Lo dijo solo en la misma frase que algo que la rúbrica desaconseja, y así no cuenta: "
                         "{said}.",
        "avoided.clean": "Evitó todo lo que la rúbrica desaconseja.",
        "avoided.slips": "Dijo {count} cosa(s) que la rúbrica desaconseja: {said}.",
        "questions": "Hizo {open} pregunta(s) abierta(s) (se necesitaban {needed}) y {closed} cerrada(s).",
        "beats.done": "Usted: {done}.",
        "beats.count": "{count} de {needed} necesarios.",
        "beats.missing": "Falta: {missing}.",
        "beats.none": "Esto aún no ocurrió: {missing}.",
        "beats.empty": "La rúbrica no indica nada que hacer para este criterio.",
        "beats.taken_back": "Usted: {done}; pero después lo retiró: \u00ab{quote}\u00bb.",
        "beats.said_like": "dijo algo como \u00ab{phrase}\u00bb",
        "not_scored": "Solo un modelo de lenguaje puede evaluar esto (configure evaluator.model); queda fuera de "
                      "la puntuación global.",
        "suggest.say": "Pruebe a decir: \u00ab{phrase}\u00bb.",
        "suggest.leave_out": "Evite decir \u00ab{phrase}\u00bb; diga qué va a hacer.",
        "suggest.open": "Haga preguntas abiertas que inviten a contar, por ejemplo \u00ab¿Qué pasó, desde su punto "
                        "de vista?\u00bb o \u00ab¿Cómo le ha afectado esto?\u00bb",
        "note.no_model": "No se usó ningún modelo de lenguaje: todos los criterios se comprobaron con las reglas "
                         "integradas.",
        "note.not_scored": "Quedan fuera de la puntuación global porque necesitan un modelo de lenguaje: {titles}.",
        "note.short": "La conversación es corta, así que las puntuaciones aún dicen poco.",
        "note.contempt": "La puntuación se limita a {cap}, por debajo del aprobado: se burló de la otra persona, "
                         "la menospreció o la amenazó ({said}). Aunque lo demás saliera bien, eso suspende la "
                         "conversación.",
        "feedback.contempt": "Mantenga el respeto aunque no esté de acuerdo o esté bajo presión: evite {said}.",
        "note.required": "La puntuación se limita a {cap}, por debajo del aprobado: este escenario no se aprueba sin "
                         "cumplir {titles}, y apenas se cumplió o no se cumplió. Aunque lo demás saliera bien, eso "
                         "va primero.",
        "note.required_below": "Este escenario no se aprueba sin cumplir {titles}, y apenas se cumplió o no se cumplió.",
        "note.rough_questions": "En \u2018{tag}\u2019 las preguntas abiertas y cerradas solo se distinguen "
                                "de forma aproximada.",
        "note.no_criteria": "La rúbrica del escenario no tiene criterios; no hay nada que puntuar.",
        "feedback.strength": "{title}: {justification}",
        "feedback.improve": "{title} ({score}/100): {justification}",
        "feedback.step": "{title}: {suggestion}",
        "feedback.listen": "Escuche más: usted dijo el {share}% de las palabras. Pregunte y deje hablar a la otra "
                           "persona.",
        "feedback.open": "Convierta las preguntas cerradas en abiertas: empiece por qué, cómo o \u00abcuénteme\u00bb.",
        "feedback.passed": "Cumplió la rúbrica: pruebe este escenario en un nivel más difícil, u otro escenario.",
        "feedback.again": "Vuelva a practicar este escenario, apuntando a los criterios de arriba.",
        "judge.justification": "Evaluado por el modelo de lenguaje.",
        "judge.dropped": " ({count} cita(s) no se encontraron en la transcripción y se descartaron.)",
        "judge.dropped_note": "{count} cita(s) del modelo de lenguaje no aparecen literalmente en la transcripción "
                              "y se descartaron; la confianza es menor.",
        "judge.not_judged": "El modelo de lenguaje no evaluó \u2018{criterion}\u2019; queda el resultado de las "
                            "reglas.",
        "judge.fallback": "El modelo de lenguaje ({provider}) {reason}; los criterios {ids} se puntuaron con las "
                          "reglas integradas.",
        "judge.timeout": "no respondió en {seconds:g} segundos",
        "judge.malformed": "dio una respuesta mal formada ({detail})",
        "judge.unavailable": "no está disponible ({detail})",
        "judge.failed": "falló ({detail})",
        "judge.disagreement": "\u2018{title}\u2019: el modelo de lenguaje puntuó {judge:g} y las reglas {rules:g}, "
                              "a {points:g} puntos de distancia; conviene que una persona revise este criterio.",
        "judge.window": "La conversación es larga: el modelo de lenguaje leyó los mensajes hasta el {head} y desde "
                        "el {tail}; {count} mensaje(s) intermedios quedaron fuera (las reglas los leyeron todos).",
        "md.title": "Evaluación: {title}",
        "md.overall": "Puntuación global: **{score}/100** ({verdict}; aprobado desde {bar})",
        "md.passed": "aprobado",
        "md.not_passed": "no aprobado",
        "md.session": "Sesión: `{session}`, mensajes hasta el n.º {upto}",
        "md.evaluated": "Evaluado: {when} por {evaluator}",
        "md.script": "Versión del guion: {version}, rúbrica {digest}",
        "md.confidence": "Confianza: {percent}%",
        "md.review": "se recomienda una revisión humana",
        "md.notes": "Notas",
        "md.criteria": "Criterios",
        "md.not_scored": "sin puntuar",
        "md.weight": "peso {weight}",
        "md.say_instead": "Diga en su lugar:",
        "md.strengths": "Puntos fuertes",
        "md.improve": "Para mejorar",
        "md.next_steps": "Próximos pasos",
        "md.statistics": "Estadísticas",
        "md.stats_header": "| Turnos (usted / personaje) | Palabras (usted / personaje) | Su parte de la conversación | "
                           "Preguntas (abiertas / cerradas) | Duración |",
        "list.and": " y ",
    },
    "zh-Hant": {
        "how.phrases_used": "檢查是否說了類似{examples}的話。",
        "how.phrases_avoided": "檢查是否避免了類似{examples}的話。",
        "how.open_questions": "計算您問的開放式與封閉式問題。",
        "how.beat_reached": "檢查您在對話中做到的事：{labels}。",
        "how.model": "由語言模型（{model}）評分。",
        "how.fallback": "語言模型無法評分，改由內建規則檢查。",
        "how.not_scored": "需要語言模型，未評分。",
        "how.mechanical": "依情境作者的要求，一律由內建規則檢查。",
        "how.offline": "沒有設定語言模型，改用情境作者指定的規則：{how}",
        "used.some": "您說到了要找的 {total} 項中的 {count} 項（{said}），需要 {needed} 項。",
        "used.missing": "沒有聽到：{missing}。",
        "used.repeated": "同一句話一字不差地出現在 {count} 則訊息裡：聽起來像照稿念，而不是回應對方，所以只算一半。",
        "used.none": "沒有出現要找的內容，例如{missing}。",
        "used.empty": "評分標準沒有列出要找的內容。",
        "used.softened": "只在同一句話裡和評分標準提醒不要說的話一起出現，所以不算：{said}。",
        "avoided.clean": "您避開了評分標準提醒不要說的話。",
        "avoided.slips": "您說了 {count} 句評分標準提醒不要說的話：{said}。",
        "questions": "您問了 {open} 個開放式問題（需要 {needed} 個）和 {closed} 個封閉式問題。",
        "beats.done": "您做到了：{done}。",
        "beats.count": "需要 {needed} 項，完成 {count} 項。",
        "beats.missing": "還沒做到：{missing}。",
        "beats.none": "還沒做到：{missing}。",
        "beats.empty": "評分標準沒有列出這項要做的事。",
        "beats.taken_back": "您做到了：{done}，但之後又收回了：「{quote}」。",
        "beats.said_like": "說了類似「{phrase}」的話",
        "not_scored": "這一項只有語言模型能評分（請設定 evaluator.model），因此不計入總分。",
        "suggest.say": "可以試著說：「{phrase}」。",
        "suggest.leave_out": "不要說「{phrase}」，改說您會怎麼處理。",
        "suggest.open": "多問能讓對方描述經過的開放式問題，例如「從您的角度來看，發生了什麼事？」或「這件事對您造成了什麼影響？」",
        "note.no_model": "這次沒有使用語言模型：每一項都由內建規則檢查。",
        "note.not_scored": "以下項目需要語言模型，未計入總分：{titles}。",
        "note.short": "對話很短，分數目前參考價值有限。",
        "note.contempt": "分數上限為 {cap}，低於及格分數：您嘲諷、貶低或威脅了對方（{said}）。"
                         "不論其他部分表現多好，這樣的對話都不及格。",
        "feedback.contempt": "即使意見不同或壓力很大，也要保持尊重：不要再說{said}。",
        "note.required": "分數上限為 {cap}，低於及格分數：這個情境一定要做到{titles}，這次卻幾乎沒有做到。"
                         "不論其他部分表現多好，都要先做到這一項。",
        "note.required_below": "這個情境一定要做到{titles}，這次卻幾乎沒有做到。",
        "note.rough_questions": "在「{tag}」中，開放式與封閉式問題只能粗略區分。",
        "note.no_criteria": "這個情境的評分標準沒有項目，無法評分。",
        "feedback.strength": "{title}：{justification}",
        "feedback.improve": "{title}（{score}/100）：{justification}",
        "feedback.step": "{title}：{suggestion}",
        "feedback.listen": "多聽一點：您說的話佔了 {share}%。先提問，再讓對方說。",
        "feedback.open": "把封閉式問題改成開放式：用「什麼」、「怎麼」或「請跟我說說」開頭。",
        "feedback.passed": "您達到了評分標準：可以用更難的程度再練一次，或換一個情境。",
        "feedback.again": "再練習一次這個情境，針對上面的項目加強。",
        "judge.justification": "由語言模型評分。",
        "judge.dropped": "（有 {count} 句引用在逐字稿中找不到，已刪除。）",
        "judge.dropped_note": "語言模型有 {count} 句引用在逐字稿中找不到原文，已刪除；可信度較低。",
        "judge.not_judged": "語言模型沒有評「{criterion}」，沿用規則的結果。",
        "judge.fallback": "語言模型（{provider}）{reason}；{ids} 改由內建規則評分。",
        "judge.timeout": "在 {seconds:g} 秒內沒有回應",
        "judge.malformed": "回傳的格式有誤（{detail}）",
        "judge.unavailable": "無法使用（{detail}）",
        "judge.failed": "發生錯誤（{detail}）",
        "judge.disagreement": "「{title}」：語言模型給 {judge:g} 分，內建規則給 {rules:g} 分，相差 {points:g} 分；"
                              "建議由人員複查這一項。",
        "judge.window": "對話很長：語言模型讀了第 {head} 則之前和第 {tail} 則之後的訊息，中間 {count} 則沒有放進提示"
                        "（內建規則全部都有讀）。",
        "md.title": "評量：{title}",
        "md.overall": "總分：**{score}/100**（{verdict}；及格分數 {bar}）",
        "md.passed": "及格",
        "md.not_passed": "未及格",
        "md.session": "練習：`{session}`，訊息到第 {upto} 則",
        "md.evaluated": "評量時間：{when}，評量方式：{evaluator}",
        "md.script": "腳本版本：{version}，評分標準 {digest}",
        "md.confidence": "可信度：{percent}%",
        "md.review": "建議由人員複查",
        "md.notes": "說明",
        "md.criteria": "評分項目",
        "md.not_scored": "未評分",
        "md.weight": "權重 {weight}",
        "md.say_instead": "可以改說：",
        "md.strengths": "做得好的地方",
        "md.improve": "可以加強的地方",
        "md.next_steps": "下一步",
        "md.statistics": "統計",
        "md.stats_header": "| 發言次數（您／角色） | 字數（您／角色） | 您的發言比例 | 問題（開放式／封閉式） | 時間 |",
        "list.and": "和",
    },
}


def language_of(tag: str | None) -> str:
    """The catalogue for a BCP 47 tag: 'es-MX' -> 'es', 'zh-TW' -> 'zh-Hant', 'fr' -> 'en'."""
    parts = (tag or "en").lower().split("-")
    if parts[0] == "es":
        return "es"
    if parts[0] == "zh":
        return "zh-Hant"  # the shipped Chinese is Traditional; Simplified readers read it too
    return "en"


def say(language: str | None, key: str, **values: object) -> str:
    """The sentence ``key`` in ``language`` (English when the language has no catalogue)."""
    return CATALOGUE[language_of(language)][key].format(**values)


def quoted(items: Iterable[str], language: str | None, limit: int = 3) -> str:
    """Items quoted in the language's marks and joined: “a”, “b” and “c”."""
    marks = {"en": ("\u201c", "\u201d"), "es": ("\u00ab", "\u00bb"), "zh-Hant": ("「", "」")}
    left, right = marks[language_of(language)]
    return joined([f"{left}{item}{right}" for item in list(items)[:limit]], language)


def joined(items: Iterable[str], language: str | None) -> str:
    """Items joined as a list reads in the language: 'a, b and c'; '甲、乙和丙'."""
    items = list(items)
    code = language_of(language)
    comma = "、" if code == "zh-Hant" else ", "
    if len(items) <= 1:
        return "".join(items)
    return comma.join(items[:-1]) + say(language, "list.and") + items[-1]


__all__ = ["CATALOGUE", "LANGUAGES", "joined", "language_of", "quoted", "say"]
