"""The console for scripters and admins, in headless Chromium against the full app on uvicorn.

One server and one browser for the whole module; each person has a tab of their own (an admin, a
scripter, a learner). A scripter writes a script from nothing, fixes the lint finding the editor
shows at its line, previews two turns, publishes, and a learner plays it; a stale save opens the
conflict view; an admin changes a role and finds the change in the audit log; a learner reaches
no console view and the API refuses the calls anyway; the console works from the keyboard alone
and at 390 px.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.metadata
import json
import struct
import tempfile
import zlib
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from web_support import Browser, Page, Server, check_view, chromium_binary, requires_api

PASSWORD = "correct horse battery staple"
ADMIN = {"auth.bootstrap_admin.email": "root@example.org", "auth.bootstrap_admin.password": PASSWORD,
         "scripter.translations.required_languages": ["en", "es"]}
#: What the scripter types: one lint error (a beat requires a beat that does not exist).
SCRIPT = """\
id: library-late-fee
language: en
translation_group: library-late-fee
title: Library late fee
summary: A reader disputes a late fee.
learner_role: Librarian
setting: The front desk of a city library.
objectives: [Listen, Explain the fee]
difficulty: beginner
estimated_minutes: 5
characters:
  - id: sam
    name: Sam Ortiz
    persona: You are Sam, annoyed about a late fee.
    opening_line: Why do I owe six dollars?
    speaks_first: true
scripted:
  initial_mood: -1
  synonyms:
    sorry: [apologise, apologize]
  beats:
    - id: apology
      triggers: [sorry]
      replies: ["Thanks, I guess."]
      mood_effect: 1
    - id: explain
      triggers: [the book was due, two weeks late]
      requires: [ghost]
      replies: ["I was away. Nobody told me."]
      nudge: So what is this fee even for?
  fallbacks:
    - replies: ["Sorry, what?", "I don't follow.", "And?", "What does that mean?", "Can we talk about the fee?"]
  end_conditions:
    - kind: beat_reached
      beat: explain
      reason: The fee was explained.
rubric:
  passing_score: 60
  criteria:
    - id: apologised
      title: Apologised
      check: {kind: phrases_used, concepts: [sorry]}
    - id: polite
      title: Polite
      check: {kind: model, good_looks_like: Calm and friendly.}
"""
requires_scripter = pytest.mark.skipif(
    not importlib.metadata.entry_points(group="roleplay", name="scripter"),
    reason="needs the roleplay-scripter plugin installed: the console calls its API")

pytestmark = [requires_api, requires_scripter, pytest.mark.slow, pytest.mark.browser]


def js(value: str) -> str:
    return json.dumps(value)


def card_png(card: dict) -> bytes:
    """A 1x1 PNG carrying a Character Card V2 in its ``chara`` tEXt chunk, as card tools write them."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    text = b"chara\0" + base64.b64encode(json.dumps(card).encode())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", text)
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


async def choose_file(page: Page, selector: str, path: Path) -> None:
    """Put a file in a file input, as the file picker would (the page gets its change event)."""
    root = (await page.send("DOM.getDocument"))["root"]["nodeId"]
    node = (await page.send("DOM.querySelector", {"nodeId": root, "selector": selector}))["nodeId"]
    await page.send("DOM.setFileInputFiles", {"files": [str(path)], "nodeId": node})


def test_console_in_headless_chromium():
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no `chromium` on PATH: the browser test needs headless Chromium (apt-get install chromium)")
    with Server(ADMIN) as server:
        asyncio.run(asyncio.wait_for(console(binary, server.url), 150))


async def sign_in(browser: Browser, http: httpx.AsyncClient, url: str, email: str) -> Page:
    """A tab signed in as ``email`` (the tokens arrive in the fragment, as after an OAuth sign-in)."""
    pair = (await http.post("/auth/login", json={"email": email, "password": PASSWORD})).json()
    page = await browser.page()
    await page.goto(url + "/#" + urlencode({k: str(v) for k, v in pair.items() if k != "user"}))
    await page.wait_for("location.hash === '#/scenarios' && !document.querySelector('#nav').hidden", what=f"{email} signed in")
    return page


async def shown(page: Page, hash_: str) -> None:
    """Go to ``hash_`` and wait until the view is done (the router focuses its heading last)."""
    await page.eval(f"location.hash = {js(hash_)}; true")
    await page.wait_for(f"location.hash === {js(hash_)} && document.activeElement?.matches('main h1')", what=f"{hash_} shown")


async def press(page: Page, key: str, code: str, keycode: int, shift: bool = False) -> None:
    modifiers = 8 if shift else 0
    await page.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": key, "code": code,
                                               "windowsVirtualKeyCode": keycode, "modifiers": modifiers})
    if key == "Enter":
        await page.send("Input.dispatchKeyEvent", {"type": "char", "key": key, "text": "\r", "modifiers": modifiers})
    await page.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                               "windowsVirtualKeyCode": keycode, "modifiers": modifiers})


async def tab_to(page: Page, selector: str, most: int = 60) -> list[str]:
    """Press Tab until ``selector`` has the focus; the focused elements on the way (never the body)."""
    seen = []
    for _ in range(most):
        await press(page, "Tab", "Tab", 9)
        here = await page.eval("(() => { const e = document.activeElement; return e === document.body ? 'BODY' : "
                               "(e.id || e.getAttribute('href') || e.name || e.textContent.trim().slice(0, 30)); })()")
        seen.append(here)
        assert here != "BODY", f"the focus fell to the page body after {seen}"
        if await page.eval(f"document.activeElement.matches({js(selector)})"):
            return seen
    raise AssertionError(f"Tab never reached {selector}: {seen}")


async def console(binary: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http, Browser(binary) as browser:
        for email, name in (("sam@example.org", "Sam Writer"), ("lee@example.org", "Lee Learner"),
                            ("gone@example.org", "Gone Soon")):
            registered = await http.post("/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
            assert registered.status_code == 201, registered.text
        sam_id = (await http.post("/auth/login", json={"email": "sam@example.org", "password": PASSWORD})).json()
        sam_id = (await http.get("/auth/me", headers={"Authorization": f"Bearer {sam_id['access_token']}"})).json()["id"]

        # -- an admin makes Sam a scripter; the audit log shows the change ----------------------------
        admin = await sign_in(browser, http, url, "root@example.org")
        assert not await admin.eval("document.querySelector('#nav-console').hidden")
        await admin.click("[data-nav=console]")
        await admin.wait_for("document.querySelector('#script-rows tr[data-script-id]')", what="the scripts list")
        await admin.click("[data-console=users]")
        await admin.wait_for("document.querySelector('#user-rows tr[data-user-id]')", what="the users list")
        await admin.fill("#user-search", "sam@")
        await admin.press_enter()
        await admin.wait_for(f"document.querySelectorAll('#user-rows tr[data-user-id]').length === 1 && "
                             f"document.querySelector('#user-rows tr[data-user-id={js(sam_id)}]')", what="Sam found")
        await check_view(admin, "console-users")
        await admin.click(f"#user-rows tr[data-user-id={js(sam_id)}] a")
        await admin.wait_for("document.querySelector('#role-scripter') && document.querySelector('#user-activity h3')",
                             what="Sam's page")
        assert "password" in await admin.eval("document.querySelector('#user-methods').textContent")
        assert await admin.eval("document.querySelector('#user-roles').textContent") == "Learner"
        await admin.click("#role-scripter")
        await admin.click("#save-roles")
        await admin.wait_for("document.querySelector('#user-roles').textContent === 'Learner, Scripter'", what="the new roles")
        assert "Roles saved" in await admin.eval("document.querySelector('#user-status').textContent")
        await check_view(admin, "console-user")
        await admin.click("#user-audit-link")
        await admin.wait_for(f"document.querySelector('#audit-user').value === {js(sam_id)} && "
                             "document.querySelector('#audit-rows tr[data-type=\"user.roles_changed\"]')", what="the audit log")
        types = await admin.eval("[...document.querySelectorAll('#audit-rows tr[data-type]')].map(r => r.dataset.type)")
        assert set(types) == {"user.registered", "login.succeeded", "user.roles_changed"}, types
        row = await admin.eval("document.querySelector('#audit-rows tr[data-type=\"user.roles_changed\"]').innerText")
        assert '["user"]' in row and '["user","scripter"]' in row, row
        await admin.fill("#audit-type", "user.roles_changed")
        await admin.click("#audit-apply")
        await admin.wait_for("[...document.querySelectorAll('#audit-rows tr[data-type]')].map(r => r.dataset.type).join() === 'user.roles_changed'",
                             what="only the role change")
        await check_view(admin, "console-audit")

        # -- Sam writes a script from nothing --------------------------------------------------------
        sam = await sign_in(browser, http, url, "sam@example.org")
        await sam.click("[data-nav=console]")
        await sam.wait_for("document.querySelector('#script-rows tr[data-script-id=\"refund-angry-customer\"]')", what="Sam's list")
        assert await sam.eval("[...document.querySelectorAll('.console-nav a')].map(a => a.dataset.console).join()") == "scripts,import"
        await sam.fill("#script-search", "espresso")
        await sam.press_enter()
        await sam.wait_for("[...document.querySelectorAll('#script-rows tr[data-script-id]')].every(r => r.dataset.scriptId.startsWith('refund-angry-customer'))",
                           what="the search")
        await check_view(sam, "console-scripts")
        await sam.click("#new-script")
        await sam.wait_for("document.querySelector('#script-text')?.value.startsWith('id: my-new-script') && "
                           "document.querySelector('#findings-summary').textContent", what="a new script's editor")
        await sam.fill("#script-text", SCRIPT)
        ghost_line = SCRIPT.splitlines().index("      requires: [ghost]") + 1
        await sam.wait_for(f"document.querySelector('#findings li[data-code=unknown_beat]')?.dataset.line === '{ghost_line}' && "
                           f"document.querySelector('#gutter .line[data-line=\"{ghost_line}\"]').classList.contains('flag-error')",
                           what="the unknown beat flagged at its line")
        # The only error; a warning says the group has no Spanish script (required: en and es).
        assert await sam.eval("[...document.querySelectorAll('#findings li')].map(li => li.dataset.code).sort().join()") == \
            "missing_translation,unknown_beat"
        await check_view(sam, "console-editor")
        # Fix it where the editor points: its "Line N" button selects that line.
        await sam.click("#findings li[data-code=unknown_beat] button")
        assert await sam.eval("(() => { const t = document.activeElement; return t.id === 'script-text' && "
                              "t.value.slice(t.selectionStart, t.selectionEnd); })()") == "      requires: [ghost]"
        await sam.send("Input.insertText", {"text": "      requires: [apology]"})
        await sam.wait_for("document.querySelector('#findings-summary').textContent === 'Errors: 0 · warnings: 1' && "
                           "!document.querySelector('#gutter .flag-error')", what="no error after the fix")
        await sam.click("#save-script")
        await sam.wait_for("location.hash === '#/console/scripts/library-late-fee' && "
                           "document.querySelector('#editor-status').textContent === 'Saved version 1.'", what="saved")
        # The form follows the text, and the text follows the form.
        await sam.click("#tab-form")
        await sam.wait_for("document.querySelector('#form-pane input[name=title]')?.value === 'Library late fee'", what="the form")
        await sam.fill("#form-pane input[name=title]", "Library fee")
        await sam.wait_for("document.querySelector('#script-text').value.includes('\\ntitle: Library fee\\n')", what="the text follows")
        assert await sam.eval("document.querySelector('#form-pane [name=\"scripted.beats.1.requires\"]').value") == "apology"
        await check_view(sam, "console-form")
        await sam.click("#tab-text")
        await sam.click("#save-script")
        await sam.wait_for("document.querySelector('#editor-status').textContent === 'Saved version 2.'", what="version 2")
        # What the translation group lacks: required languages en and es, and only en exists.
        await sam.wait_for("document.querySelector('#translations .missing-languages')?.textContent === 'Missing languages: es'",
                           what="the translation group")
        # Preview two turns: each with its beat and mood.
        await sam.fill("#preview-input", "I'm so sorry about this.")
        await sam.click("#preview-send")
        await sam.wait_for("document.querySelectorAll('#preview-turns .preview-turn').length === 1", what="turn one")
        await sam.fill("#preview-input", "The book was due two weeks ago, it was two weeks late.")
        await sam.press_enter()
        await sam.wait_for("document.querySelectorAll('#preview-turns .preview-turn').length === 2", what="turn two")
        turns = await sam.eval("[...document.querySelectorAll('#preview-turns .preview-turn')].map(li => "
                               "[li.querySelector('.character .text').textContent, li.querySelector('.turn-beats').textContent, "
                               "li.querySelector('.turn-mood').textContent])")
        assert turns == [["Thanks, I guess.", "Beats: apology", "Mood: 0"],
                         ["I was away. Nobody told me.", "Beats: explain", "Mood: 0"]]
        assert await sam.eval("document.querySelector('.preview-opening .text').textContent") == "Why do I owe six dollars?"
        await sam.click("#publish-script")
        await sam.wait_for("document.querySelector('#editor-status').textContent.startsWith('Published version 2') && "
                           "document.querySelector('#script-status').textContent === 'Published'", what="published")
        await check_view(sam, "console-editor-published")
        # The same script as JSON: the warning moves to the line its path starts on there.
        await sam.eval("(() => { const s = document.querySelector('#script-format'); s.value = 'json';"
                       " s.dispatchEvent(new Event('change')); return true; })()")
        await sam.wait_for("document.querySelector('#script-text').value.startsWith('{') && "
                           "document.querySelector('#findings li[data-code=missing_translation]')", what="JSON")
        json_line = await sam.eval("document.querySelector('#script-text').value.split('\\n')"
                                   ".findIndex(l => l.trim().startsWith('\"translation_group\"')) + 1")
        assert json_line > 1
        await sam.wait_for(f"document.querySelector('#findings li[data-code=missing_translation]').dataset.line === '{json_line}'",
                           what="the warning at its JSON line")
        await sam.eval("(() => { const s = document.querySelector('#script-format'); s.value = 'yaml';"
                       " s.dispatchEvent(new Event('change')); return true; })()")
        await sam.wait_for("document.querySelector('#script-text').value.startsWith('id: library-late-fee')", what="YAML again")

        # -- a stale save: someone else saved meanwhile -------------------------------------------
        token = (await http.post("/auth/login", json={"email": "sam@example.org", "password": PASSWORD})).json()["access_token"]
        other = SCRIPT.replace("requires: [ghost]", "requires: [apology]").replace("title: Library late fee", "title: Overdue books")
        put = await http.put("/scripts/library-late-fee", content=other, headers={
            "Authorization": f"Bearer {token}", "If-Match": '"v2"', "Content-Type": "application/yaml"})
        assert put.status_code == 200, put.text
        text = await sam.eval("document.querySelector('#script-text').value")
        await sam.fill("#script-text", text.replace("summary: A reader disputes a late fee.", "summary: A reader disputes a fee."))
        await sam.click("#save-script")
        await sam.wait_for("!document.querySelector('#conflict').hidden && document.activeElement.id === 'conflict-title'",
                           what="the conflict view")
        conflict = await sam.eval("document.querySelector('#conflict').innerText")
        assert "version 3" in conflict and "Overdue books" in conflict and "Library fee" in conflict, conflict
        assert "Not saved" in await sam.eval("document.querySelector('#editor-status').textContent")
        await check_view(sam, "console-conflict")
        await sam.click("#conflict-keep")
        assert "summary: A reader disputes a fee." in await sam.eval("document.querySelector('#script-text').value")
        await sam.click("#save-script")
        await sam.wait_for("document.querySelector('#editor-status').textContent === 'Saved version 4.'", what="saved over it")
        # Versions: compare any two.
        await sam.click("#versions-link")
        await sam.wait_for("document.querySelectorAll('#version-rows tbody tr').length === 4 && document.querySelector('#diff-output ul')",
                           what="the versions")
        await sam.eval("(() => { document.querySelector('#diff-from').value = '1'; document.querySelector('#diff-to').value = '2'; return true; })()")
        await sam.click("#diff-run")
        await sam.wait_for("document.querySelector('#diff-output h2')?.textContent === 'From version 1 to version 2'", what="a diff")
        assert "Library fee" in await sam.eval("document.querySelector('#diff-output').innerText")

        # -- import: an all-or-nothing bundle shows each item's result -------------------------------
        await sam.click("[data-console=import]")
        await sam.wait_for("document.querySelector('#import-text')")
        bundle = {"scripts": [json.loads(json.dumps({"id": "second-script", "title": "Second", "characters": [{"id": "a", "name": "A"}]})),
                              {"id": "broken-script", "title": "", "characters": [{"id": "b", "name": "B"}]}]}
        await sam.fill("#import-text", json.dumps(bundle))
        await sam.click("#import-run")
        await sam.wait_for("document.querySelectorAll('#import-results tbody tr').length === 2", what="per-item results")
        assert await sam.eval("[...document.querySelectorAll('#import-results tbody tr')].map(r => r.className).join()") == "ok,failed"
        assert "Nothing was imported" in await sam.eval("document.querySelector('#import-status').textContent")
        await check_view(sam, "console-import")
        # A Character Card V2 in a PNG: the page reads the card out of the image and adds the character.
        with tempfile.TemporaryDirectory() as folder:
            png = Path(folder) / "robin.png"
            png.write_bytes(card_png({"spec": "chara_card_v2", "spec_version": "2.0",
                                      "data": {"name": "Robin Fox", "description": "A patient librarian."}}))
            await choose_file(sam, "#import-file", png)
            await sam.wait_for("document.querySelector('#import-status').textContent === 'Read robin.png.' && "
                               "document.querySelector('#import-kind').value === 'card' && !document.querySelector('#import-target').closest('.field').hidden",
                               what="the card read from the PNG")
        await sam.fill("#import-target", "library-late-fee")
        await sam.click("#import-run")
        await sam.wait_for("/^Character robin-fox added to library-late-fee \\(version 5\\)/.test(document.querySelector('#import-status').textContent)",
                           what="the character added")
        # A pack script: saving it makes an authored copy, which then has versions.
        await sam.eval("location.hash = '#/console/scripts/patient-history-chest-pain'; true")
        await sam.wait_for("document.querySelector('#save-script')?.textContent === 'Save as my copy' && "
                           "document.querySelector('#findings-summary').textContent", what="a pack script")
        assert await sam.eval("document.querySelector('#versions-link')") is None
        await sam.click("#save-script")
        await sam.wait_for("document.querySelector('#editor-status')?.textContent === 'Saved version 2.' && "
                           "document.querySelector('#versions-link') && document.querySelector('#script-status').textContent === 'Draft'",
                           what="the authored copy")
        await sam.click("#archive-script")
        await sam.wait_for("document.activeElement.closest('.confirm')", what="the archive question")
        await press(sam, "Enter", "Enter", 13)
        await sam.wait_for("document.querySelector('#script-status').textContent === 'Archived' && "
                           "document.querySelector('#editor-status').textContent.startsWith('Archived')", what="archived")

        # -- the learner sees the published script and plays it -----------------------------------
        lee = await sign_in(browser, http, url, "lee@example.org")
        assert await lee.eval("document.querySelector('#nav-console').hidden")
        await lee.wait_for("document.querySelector('[data-scenario-id=\"library-late-fee\"]')", what="the script in Lee's list")
        assert await lee.eval("document.querySelector('[data-scenario-id=\"library-late-fee\"] h2').textContent") == "Library fee"
        await lee.click("[data-scenario-id='library-late-fee'] a.button")
        await lee.wait_for("document.querySelector('#start-practice')")
        await lee.click("#start-practice")
        await lee.wait_for("document.querySelector('#messages li.character .text')?.textContent === 'Why do I owe six dollars?'",
                           what="the opening line")
        await lee.fill("#message-input", "I'm so sorry about this.")
        await lee.press_enter()
        await lee.wait_for("[...document.querySelectorAll('#messages li.character:not(.streaming) .text')].map(e => e.textContent).includes('Thanks, I guess.')",
                           what="the scripted reply")

        # -- no console view for a learner; the API refuses anyway ------------------------------------
        for hash_ in ("#/console", "#/console/sessions/any", "#/console/scripts", "#/console/new-script", "#/console/scripts/library-late-fee",
                      "#/console/scripts/library-late-fee/versions", "#/console/import", "#/console/users",
                      f"#/console/users/{sam_id}", "#/console/audit", f"#/console/audit?user={sam_id}"):
            await lee.eval(f"location.hash = {js(hash_)}; true")
            await lee.wait_for("document.querySelector('main h1')?.textContent === 'Page not found'", what=f"no {hash_}")
            assert await lee.eval("document.querySelectorAll('#script-text, .console-nav, #user-rows, #audit-rows').length") == 0
        called = [u for u in lee.request_urls() if "/scripts" in u or "/users" in u]
        assert called == [], called
        lee_token = (await http.post("/auth/login", json={"email": "lee@example.org", "password": PASSWORD})).json()["access_token"]
        for path in ("/scripts", "/scripts/library-late-fee", "/users", "/users/audit", f"/users/{sam_id}"):
            refused = await http.get(path, headers={"Authorization": f"Bearer {lee_token}"})
            assert refused.status_code == 403, (path, refused.status_code)
        # A scripter is not an admin: the page shows no user or audit view to Sam either.
        await sam.eval("location.hash = '#/console/users'; true")
        await sam.wait_for("document.querySelector('main h1')?.textContent === 'Page not found'", what="no users view for Sam")

        # -- keyboard only: from the list to a script, through the editor ----------------------------
        await shown(sam, "#/console/scripts")
        await sam.fill("#script-search", "")  # the search for "espresso" is kept while the page is open
        await sam.press_enter()
        await sam.wait_for("document.querySelector('#script-rows tr[data-script-id=\"library-late-fee\"]')")
        await sam.eval("document.activeElement.blur(); true")
        await tab_to(sam, "#script-rows tr[data-script-id='library-late-fee'] a")
        await press(sam, "Enter", "Enter", 13)
        await sam.wait_for("location.hash === '#/console/scripts/library-late-fee' && document.querySelector('#script-text')",
                           what="the editor, opened with Enter")
        seen = await tab_to(sam, "#script-text")
        assert "save-script" in seen and "tab-form" in seen, seen
        await tab_to(sam, "#preview-input")  # Tab leaves the text area: it traps nobody
        await sam.fill("#preview-input", "I'm so sorry about this.")
        await press(sam, "Enter", "Enter", 13)
        await sam.wait_for("document.querySelectorAll('#preview-turns .preview-turn').length === 1", what="a preview by keyboard")
        await press(sam, "Tab", "Tab", 9, shift=True)  # back from the focus the preview kept
        assert await sam.eval("document.activeElement !== document.body")

        # -- the admin reads Lee's practice (read-only), disables and enables Lee, deletes an account ----
        lee_id = (await http.get("/auth/me", headers={"Authorization": f"Bearer {lee_token}"})).json()["id"]
        await admin.eval(f"location.hash = {js('#/console/users/' + lee_id)}; true")
        await admin.wait_for("document.querySelectorAll('#user-activity li[data-session-id]').length === 1", what="Lee's session")
        assert "Library fee" in await admin.eval("document.querySelector('#user-activity li[data-session-id]').textContent")
        await admin.click("#user-activity li[data-session-id] a")
        await admin.wait_for("document.querySelectorAll('#transcript li').length === 3", what="Lee's transcript")
        said = await admin.eval("[...document.querySelectorAll('#transcript li')].map(li => [li.dataset.role, li.querySelector('.text').textContent])")
        assert said == [["character", "Why do I owe six dollars?"], ["learner", "I'm so sorry about this."],
                        ["character", "Thanks, I guess."]]
        assert await admin.eval("document.querySelectorAll('main textarea, main button').length") == 0  # read-only
        await admin.eval(f"location.hash = {js('#/console/users/' + lee_id)}; true")
        await admin.wait_for("document.querySelector('#toggle-disabled') && document.activeElement.matches('main h1')",
                             what="Lee's page again")
        await admin.click("#toggle-disabled")
        await admin.wait_for("document.querySelector('#user-account').textContent === 'Disabled'", what="disabled")
        refused = await http.get("/auth/me", headers={"Authorization": f"Bearer {lee_token}"})
        assert refused.status_code in (401, 403), refused.status_code
        await admin.click("#toggle-disabled")
        await admin.wait_for("document.querySelector('#user-account').textContent === 'Active'", what="enabled again")
        await shown(admin, "#/console/users")
        await admin.fill("#user-search", "gone@")
        await admin.press_enter()
        await admin.wait_for("document.querySelectorAll('#user-rows tr[data-user-id]').length === 1", what="the account to delete")
        await admin.click("#user-rows tr[data-user-id] a")
        await admin.wait_for("document.querySelector('#delete-user') && document.activeElement.matches('main h1')",
                             what="the account's page, done")
        await admin.click("#delete-user")
        question = await admin.wait_for("document.activeElement.closest('.confirm')?.innerText", what="the question, focused")
        assert "gone@example.org" in question and "cannot be undone" in question
        await press(admin, "Enter", "Enter", 13)  # on "Delete and erase"
        await admin.wait_for("location.hash === '#/console/users' && document.querySelector('#users-status')?.textContent.includes('deleted')",
                             what="deleted")
        gone = await http.post("/auth/login", json={"email": "gone@example.org", "password": PASSWORD})
        assert gone.status_code == 401

        for tab in (admin, sam, lee):
            assert tab.console_errors() == [], tab.console_errors()
