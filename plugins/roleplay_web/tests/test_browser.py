"""End to end in a real browser: headless Chromium against the full app on uvicorn on loopback.

Skipped, with the reason, when no ``chromium`` is on PATH (``apt-get install chromium``).
The access token lives 4 seconds here, so the client has to refresh it (POST /auth/refresh on
a 401) again and again during the journey; evaluations answer 202, so the client has to poll.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode

import httpx
import pytest
from web_support import ARTIFACTS, JWT_LIKE, Browser, Server, check_view, chromium_binary, requires_api

SCREENSHOT = ARTIFACTS / "report.png"
PASSWORD = "correct horse battery staple"

pytestmark = [requires_api, pytest.mark.slow, pytest.mark.browser]


def js(value: str) -> str:
    return json.dumps(value)


def test_journey_in_headless_chromium():
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no `chromium` on PATH: the browser test needs headless Chromium (apt-get install chromium)")
    # inline_wait 0: POST /evaluations answers 202 and the client has to poll for the report.
    overrides = {"security.access_token_ttl": 4, "security.leeway": 0, "web.title": "Roleplay <Training>",
                 "evaluator.inline_wait": 0.0}
    with Server(overrides) as server:
        asyncio.run(asyncio.wait_for(journey(binary, server.url), 150))


async def journey(binary: str, url: str) -> None:
    async with Browser(binary) as browser:
        page = await browser.page()
        await page.goto(url + "/")

        # -- register ------------------------------------------------------------------------
        await page.wait_for("document.querySelector('main h1')?.textContent === 'Sign in'", what="the sign-in page")
        assert await page.eval("document.querySelector('#brand').textContent") == "Roleplay <Training>"
        assert await page.eval("document.title") == "Sign in · Roleplay <Training>"
        await check_view(page, "signin")
        await page.click(".switch button")
        await page.wait_for("document.querySelector('main h1').textContent === 'Create an account'")
        # Every field error at once, found by the page before it asks the server.
        await page.click("form button[type=submit]")
        await page.wait_for("document.querySelectorAll('input[aria-invalid=true]').length === 3", what="three field errors")
        invalid = await page.eval("[...document.querySelectorAll('input[aria-invalid=true]')].map(i => i.name)")
        assert invalid == ["display_name", "email", "password"]
        assert await page.eval("[...document.querySelectorAll('.field-error')].filter(e => !e.hidden).length") == 3
        assert not [e for e in page.events("Network.requestWillBeSent") if e["request"]["url"].endswith("/auth/register")]
        await page.fill("input[name=email]", "not-an-address")
        await page.fill("input[name=password]", "short")
        await page.fill("input[name=preferred_language]", "english please")
        await page.click("form button[type=submit]")
        await page.wait_for("document.querySelectorAll('input[aria-invalid=true]').length === 4", what="four field errors")
        await check_view(page, "register-errors", "[...document.querySelectorAll('input[aria-invalid=true]')].every(i => "
                         "i.closest('.field').querySelector('.field-error').getBoundingClientRect().height > 0)",
                         what="every field error visible")
        await page.fill("input[name=display_name]", "Ana <b>Tester</b>")
        await page.fill("input[name=email]", "ana@example.org")
        await page.fill("input[name=preferred_language]", "")
        await page.fill("input[name=password]", "1234567890")  # long enough for the page, too common for the server
        await page.click("form button[type=submit]")
        # The server stays the authority: its 422 names the field; the client shows it next to that field.
        await page.wait_for("document.querySelector('input[name=password]').getAttribute('aria-invalid') === 'true' && "
                            "document.querySelectorAll('input[aria-invalid=true]').length === 1 && "
                            "/common/.test(document.querySelector('input[name=password]').closest('.field').querySelector('.field-error').textContent)",
                            what="the server's password error")
        assert [e for e in page.events("Network.requestWillBeSent") if e["request"]["url"].endswith("/auth/register")]
        await page.fill("input[name=password]", PASSWORD)
        await page.click("#remember")  # keep me signed in: the refresh token outlives the tab
        await page.click("form button[type=submit]")
        await page.wait_for("location.hash === '#/scenarios' && document.querySelectorAll('#scenario-list li.scenario').length > 0",
                            what="the scenario list")
        assert await page.eval("localStorage.getItem('roleplay.refresh_token') !== null && sessionStorage.length === 0")
        assert await page.eval("document.querySelector('#who').textContent") == "Ana <b>Tester</b>"
        assert await page.eval("document.querySelector('#who b')") is None

        # -- "#/" is the home page; the nav marks only the page it links to ------------------------
        # The list on screen is #/scenarios's: mark it, so the wait below sees #/'s own list, not the
        # old one in the moment before the hash change clears the page.
        await page.eval("document.querySelector('#scenario-list').dataset.before = 'yes'; true")
        await page.goto(url + "/#/")
        await page.wait_for("document.querySelectorAll('#scenario-list:not([data-before]) li.scenario').length > 0",
                            what="#/ as the scenario list")
        assert await page.eval("document.querySelector('main h1').textContent") == "Choose a scenario"
        assert await page.eval("[...document.querySelectorAll('[data-nav][aria-current=page]')].map(a => a.dataset.nav)") == ["scenarios"]
        await check_view(page, "scenarios", "document.querySelector('[data-nav=scenarios]').getAttribute('aria-current') === 'page'"
                         " && document.querySelector('main h1').textContent === 'Choose a scenario'", what="#/ is the home page")
        await page.eval("location.hash = '#/no-such-page'; true")
        await page.wait_for("document.querySelector('main h1')?.textContent === 'Page not found'")
        assert await page.eval("document.querySelectorAll('[data-nav][aria-current]').length") == 0

        # -- pick the refund scenario, with the language filter ----------------------------
        await page.eval("location.hash = '#/scenarios'; true")
        await page.wait_for("document.querySelector('#language-filter')")
        languages = await page.eval("[...document.querySelectorAll('#language-filter option')].map(o => o.value)")
        assert {"", "en", "es"} <= set(languages)
        await page.eval("(() => { const s = document.querySelector('#language-filter'); s.value = 'es';"
                        " s.dispatchEvent(new Event('change')); return true; })()")
        await page.wait_for("[...document.querySelectorAll('#scenario-list li.scenario')].every(li => li.dataset.scenarioId.endsWith('-es'))"
                            " && document.querySelector('[data-scenario-id=\"refund-angry-customer-es\"]') !== null",
                            what="only Spanish scenarios")
        await page.eval("(() => { const s = document.querySelector('#language-filter'); s.value = 'en';"
                        " s.dispatchEvent(new Event('change')); return true; })()")
        await page.wait_for("document.querySelector('[data-scenario-id=\"refund-angry-customer\"]') !== null")
        await asyncio.sleep(4.2)  # the access token expires: the next call answers 401 and is refreshed
        await page.click("[data-scenario-id='refund-angry-customer'] a.button")
        await page.wait_for("location.hash === '#/scenarios/refund-angry-customer' && document.querySelector('#learner-role')",
                            what="the scenario brief")
        brief = await page.eval("document.querySelector('main').innerText")
        for expected in ("Your role", "Your objectives", "Difficulty", "about 10 min", "What you are scored on"):
            assert expected in brief
        await check_view(page, "brief")

        # -- practise over the WebSocket --------------------------------------------------------
        await page.click("#start-practice")
        await page.wait_for("location.hash.startsWith('#/practice/') && document.querySelector('#transport')?.dataset.transport === 'websocket'",
                            what="the live connection")
        opening = await page.wait_for("document.querySelector('#messages li.character .text')?.textContent")
        assert "espresso machine" in opening  # Dana speaks first (the starter pack's opening line)
        await page.fill("#message-input", "I'm so sorry this happened, that sounds really frustrating.")
        await page.press_enter()
        await page.wait_for("document.querySelectorAll('#messages li.character:not(.streaming)').length === 2 && "
                            "!document.querySelector('#send').disabled", what="the first reply")
        await page.fill("#message-input", "Could you tell me what happened with the machine? Do you have the receipt?")
        await page.click("#send")
        await page.wait_for("document.querySelectorAll('#messages li.character:not(.streaming)').length === 3 && "
                            "!document.querySelector('#send').disabled", what="the second reply")
        texts = await page.eval("[...document.querySelectorAll('#messages li')].map(li => [li.dataset.role, li.querySelector('.text').textContent])")
        assert [role for role, _ in texts] == ["character", "learner", "character", "learner", "character"]
        assert all(text.strip() for _, text in texts)
        assert texts[1][1] == "I'm so sorry this happened, that sounds really frustrating."
        assert await page.eval("document.querySelector('#messages').getAttribute('aria-live')") == "polite"
        assert await page.eval("document.querySelector('#message-input').value") == ""
        assert await page.eval("[...document.querySelectorAll('[hidden]')].every(e => getComputedStyle(e).display === 'none')"), \
            "an element marked hidden is on screen"
        assert await page.eval("document.querySelector('#messages li .text') && "
                               "getComputedStyle(document.querySelector('.inline-error')).display") == "none"
        assert await page.eval("document.querySelectorAll('[data-nav][aria-current]').length") == 0, \
            "a session is not the My sessions page"
        assert await page.eval("document.querySelectorAll('p p').length") == 0
        # On a phone the composer stays on screen (sticky), with the page scrolled to the top.
        await check_view(page, "practice", phone=
                         "(window.scrollTo(0, 0), document.documentElement.scrollHeight > innerHeight + 50 && "
                         "document.querySelector('#send').getBoundingClientRect().bottom <= innerHeight && "
                         "document.querySelector('#send').getBoundingClientRect().top >= 0)", what="Send on screen")

        # -- Talk: the scripted provider has no live speech; the page says so and how to set one ---
        await page.click("#mode-talk")
        await page.wait_for("document.querySelector('#talk').dataset.state === 'unavailable'", what="voice unavailable")
        status = await page.eval("document.querySelector('#voice-status').textContent")
        assert "scripted" in status and "no live speech" in status
        assert "chat.model" in await page.eval("document.querySelector('#voice-help').textContent")
        assert await page.eval("document.querySelector('#call-start').hidden")
        await check_view(page, "talk-unavailable")
        await page.click("#mode-type")
        assert await page.eval("document.querySelector('#talk').hidden")

        # -- end, evaluate, read the report -----------------------------------------------------
        await page.click("#end-session")
        await page.wait_for("!document.querySelector('#ended').hidden && document.querySelector('#evaluate')",
                            what="the ended panel")
        # Focus moves to the panel (not the body), the end is announced, and no "·" dangles.
        assert await page.eval("document.activeElement.id") == "ended-title"
        assert (await page.eval("document.querySelector('#ended-status').textContent")).startswith("This session has ended.")
        assert await page.eval("document.querySelector('#ended-status').getAttribute('role')") == "status"
        line = await page.eval("document.querySelector('.session-line').innerText.trim()")
        assert not line.endswith("·"), line
        assert await page.eval("document.querySelectorAll('p p').length") == 0
        await check_view(page, "ended", "document.activeElement.id === 'ended-title' && "
                         "!document.querySelector('.session-line').innerText.trim().endsWith('·') && "
                         "document.querySelectorAll('p p').length === 0", what="focus on the ended panel, no dangling ·")
        await page.click("#evaluate")
        await page.wait_for("location.hash.startsWith('#/report/') && document.querySelector('#overall-score')",
                            what="the report")
        overall = await page.eval("document.querySelector('#overall-score').textContent")
        assert overall.isdigit() and 0 <= int(overall) <= 100
        criteria = await page.eval("document.querySelectorAll('#report .criterion').length")
        assert criteria >= 3
        quotes = await page.eval("[...document.querySelectorAll('#report .evidence blockquote')].map(b => b.textContent)")
        assert quotes, "the report shows quoted evidence"
        conversation = " ".join(text for _, text in texts)
        assert all(quote in conversation for quote in quotes), "every quote is what was said"
        report_text = await page.eval("document.querySelector('#report').innerText")
        for expected in ("Criteria", "Statistics", "Your turns", "Questions you asked"):
            assert expected in report_text
        await page.screenshot(SCREENSHOT)
        await check_view(page, "report")
        verdict = await page.eval("document.querySelector('.verdict').textContent")
        passing = int("".join(ch for ch in verdict if ch.isdigit()))

        # -- my sessions and progress -----------------------------------------------------------
        # A new tab (its sessionStorage is empty, as after closing the tab): still signed in.
        first_tab, page = page, await browser.page()
        await page.goto(url + "/#/sessions")
        await page.wait_for("document.querySelectorAll('#session-list li.session').length === 1", what="my sessions")
        await check_view(page, "sessions", "document.querySelector('[data-nav=sessions]').getAttribute('aria-current') === 'page'")
        listed = await page.eval("document.querySelector('#session-list li.session .actions a').textContent")
        assert listed == f"Score {overall} — report"
        await page.click("a[data-nav=progress]")
        await page.wait_for("document.querySelector('.progress-card[data-scenario-id=\"refund-angry-customer\"]')",
                            what="the progress view")
        summary = await page.eval("document.querySelector('.progress-card .summary-line').textContent")
        assert summary.startswith("1 session · first " + overall)
        # The chart has labelled axes and its dashed line at the pass mark, not at 50.
        ticks = await page.eval("[...document.querySelectorAll('.progress-card .chart text.tick')].map(t => t.textContent)")
        assert {"0", "50", "100", "1"} <= set(ticks)
        assert await page.eval("Number(document.querySelector('.progress-card .pass-mark').dataset.score)") == passing
        assert await page.eval("document.querySelector('.progress-card .pass-label').textContent") == f"pass {passing}"
        await check_view(page, "progress", """(() => {
            const links = [...document.querySelectorAll('.points li')].map(li => li.getBoundingClientRect());
            return links.every((a, i) => links.every((b, j) => i === j || a.right <= b.left || b.right <= a.left
                                                      || a.bottom <= b.top || b.bottom <= a.top));
        })()""", what="the links side by side without overlapping")

        # -- the scene ends itself: the `ended` frame closes the conversation -------------------
        await page.eval("location.hash = '#/scenarios/refund-angry-customer'; true")
        await page.wait_for("document.querySelector('#start-practice')")
        await page.click("#start-practice")
        await page.wait_for("document.querySelector('#transport')?.dataset.transport === 'websocket' && "
                            "document.querySelector('#messages li.character')", what="a second live session")
        for _ in range(4):  # dismissing Dana lowers her mood until, after one warning, she walks out
            await page.fill("#message-input", "Calm down, that's the policy.")
            await page.click("#send")
            await page.wait_for("!document.querySelector('#send').disabled || !document.querySelector('#ended').hidden")
            if await page.eval("!document.querySelector('#ended').hidden"):
                break
        ended = await page.wait_for("!document.querySelector('#ended').hidden && document.querySelector('#ended').innerText",
                                    what="the scene's own ending")
        assert "Dana walked out angry." in ended and "angry.." not in ended
        assert await page.eval("document.querySelector('#composer').hidden")
        last = await page.eval("[...document.querySelectorAll('#messages li')].pop().querySelector('.text').textContent")
        assert "dispute the charge" in last  # the closing line arrived before the end

        # -- the socket drops while the reply is written: the page fetches it over HTTP -------------
        # (It closes once the learner's message is acknowledged: the server promises to finish a reply
        # whose client went away. A close before that acknowledgement is a different case.)
        await page.eval("location.hash = '#/scenarios/refund-angry-customer'; true")
        await page.wait_for("document.querySelector('#start-practice')")
        await page.click("#start-practice")
        await page.wait_for("document.querySelector('#transport')?.dataset.transport === 'websocket' && "
                            "document.querySelector('#messages li.character')", what="a third live session")
        await page.eval("""(() => {
            const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
                send.call(this, data);
                if (JSON.parse(data).type !== 'message') return;
                this.addEventListener('message', (event) => {
                    const frame = JSON.parse(event.data);
                    if (frame.type === 'message' && frame.message.role === 'learner') this.close();
                });
            };
            window.__restoreSend = () => { WebSocket.prototype.send = send; };
            return true;
        })()""")
        await page.fill("#message-input", "I'm sorry. What happened?")
        await page.click("#send")
        await page.wait_for("document.querySelector('#transport').dataset.transport === 'http' && "
                            "document.querySelectorAll('#messages li.character:not(.streaming)').length === 2 && "
                            "!document.querySelector('#send').disabled", what="the reply after the socket dropped")
        assert await page.eval("[...document.querySelectorAll('#messages li')].map(li => li.dataset.role).join()") == \
            "character,learner,character"
        await page.eval("window.__restoreSend(); true")

        # -- the HTTP fallback when the socket cannot open; text stays text -----------------------
        await page.eval("window.WebSocket = function () { throw new Error('blocked by the test'); }; true")
        await page.eval("location.hash = '#/scenarios/refund-angry-customer'; true")
        await page.wait_for("document.querySelector('#start-practice')")
        await page.click("#start-practice")
        await page.wait_for("document.querySelector('#transport')?.dataset.transport === 'http' && "
                            "document.querySelector('#messages li.character')", what="the HTTP fallback")
        hostile = "<img src=x onerror=\"window.__xss = 1\"><b>hi</b> I'm sorry, what happened?"
        await page.fill("#message-input", hostile)
        await page.click("#send")
        await page.wait_for("document.querySelectorAll('#messages li.character').length === 2 && "
                            "!document.querySelector('#send').disabled", what="the reply over HTTP")
        assert await page.eval("document.querySelector('#messages li.learner .text').textContent") == hostile
        assert await page.eval("document.querySelectorAll('#messages img, #messages b').length") == 0
        assert await page.eval("window.__xss === undefined")

        # -- sign out ----------------------------------------------------------------------------
        await page.click("#sign-out")
        await page.wait_for("document.querySelector('main h1')?.textContent === 'Sign in'", what="signed out")
        assert await page.eval("sessionStorage.length + localStorage.length") == 0

        # -- what the browser saw ---------------------------------------------------------------
        tabs = [first_tab, page]
        assert [error for tab in tabs for error in tab.console_errors()] == []
        urls = [u for tab in tabs for u in tab.request_urls()]
        assert not [u for u in urls if "token=" in u.lower() or JWT_LIKE.search(u)], "no token ever goes in a URL"
        assert [u for u in urls if u.startswith("ws://")], "the chat used a WebSocket"
        first_frames = [json.loads(e["response"]["payloadData"]) for e in (e for tab in tabs for e in tab.events("Network.webSocketFrameSent"))]
        assert first_frames and first_frames[0]["type"] == "auth"
        posts = [(e["request"]["method"], e["request"]["url"]) for e in (e for tab in tabs for e in tab.events("Network.requestWillBeSent"))]
        assert ("POST", url + "/auth/refresh") in posts, "an expired access token was refreshed"
        statuses = [e["response"]["status"] for e in (e for tab in tabs for e in tab.events("Network.responseReceived"))
                    if "/auth/refresh" not in e["response"]["url"]]
        assert 401 in statuses
        evaluations = [(e["response"]["status"], e["response"]["url"]) for e in (e for tab in tabs for e in tab.events("Network.responseReceived"))
                       if "/evaluations" in e["response"]["url"]]
        assert (202, url + "/evaluations") in evaluations, "the evaluation was still running when POST answered"
        assert [u for status, u in evaluations if status == 200 and u.startswith(url + "/evaluations/")], "then polled"

        # -- an OAuth-style return: tokens arrive in the fragment and leave the address bar at once ----
        async with httpx.AsyncClient(base_url=url) as http:
            pair = (await http.post("/auth/login", json={"email": "ana@example.org", "password": PASSWORD})).json()
        tab = await browser.page()
        await tab.goto(url + "/#" + urlencode({**{k: str(v) for k, v in pair.items()}, "account": "existing"}))
        await tab.wait_for("location.hash === '#/scenarios' && document.querySelector('#who')?.textContent === 'Ana <b>Tester</b>'",
                           what="signed in from the fragment")
        assert "token" not in await tab.eval("location.href")
        assert await tab.eval("sessionStorage.getItem('roleplay.refresh_token')") == pair["refresh_token"]
        assert tab.console_errors() == []

        # -- the DOM helper refuses script URLs and handler attributes; text stays text -------------
        checks = await page.eval("""(async () => {
            const dom = await import('/app/js/dom.js');
            const refused = [];
            for (const props of [{href: 'javascript:alert(1)'}, {href: '//evil.example/'}, {onclick: 'alert(1)'}]) {
                try { dom.h('a', props); } catch { refused.push(Object.keys(props)[0]); }
            }
            const p = dom.h('p', {}, '<img src=x>', dom.h('span', {text: '<b>b</b>'}));
            return {refused, elements: p.querySelectorAll('img, b').length, text: p.textContent};
        })()""")
        assert checks == {"refused": ["href", "href", "onclick"], "elements": 0, "text": "<img src=x><b>b</b>"}

        # -- the policy really blocks inline script ---------------------------------------------
        blocked = await page.eval("(() => { const s = document.createElement('script');"
                                  " s.textContent = 'window.__inline = 1'; document.body.append(s);"
                                  " return window.__inline === undefined; })()")
        assert blocked, "the Content-Security-Policy let an inline script run"


def test_languages_in_headless_chromium():
    """The interface follows the account's language, then the browser's; the switcher changes it
    (and the account's preference); the scenario list defaults to the learner's language."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no `chromium` on PATH: the browser test needs headless Chromium (apt-get install chromium)")
    with Server() as server:
        asyncio.run(asyncio.wait_for(languages(binary, server.url), 90))


async def languages(binary: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        registered = await http.post("/auth/register", json={"email": "mei@example.org", "password": PASSWORD,
                                                             "display_name": "Mei", "preferred_language": "zh-Hant"})
        assert registered.status_code == 201, registered.text
        async with Browser(binary) as browser:
            page = await browser.page()
            agent = (await browser.send("Browser.getVersion"))["userAgent"]
            # A browser set to Spanish: signed out, the page is in Spanish.
            await page.send("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": "es-ES,es"})
            await page.goto(url + "/")
            await page.wait_for("document.querySelector('main h1')?.textContent === 'Iniciar sesión'", what="Spanish sign-in")
            assert await page.eval("document.documentElement.lang") == "es"
            assert await page.eval("document.querySelector('#ui-language').value") == "es"
            assert await page.eval("document.title") == "Iniciar sesión · Roleplay"
            await page.click(".switch button")
            await page.wait_for("document.querySelector('main h1').textContent === 'Crear una cuenta'")
            await page.click("form button[type=submit]")
            await page.wait_for("document.querySelectorAll('input[aria-invalid=true]').length === 3")
            errors = await page.eval("[...document.querySelectorAll('.field-error')].filter(e => !e.hidden).map(e => e.textContent)")
            assert errors[0] == "Escribe tu nombre."
            await check_view(page, "register-es")

            # Mei's account prefers Traditional Chinese: that beats the browser.
            await page.click(".switch button")
            await page.wait_for("document.querySelector('input[name=email]')")
            await page.fill("input[name=email]", "mei@example.org")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form button[type=submit]")
            await page.wait_for("document.querySelector('main h1')?.textContent === '選擇一個情境' && "
                                "document.querySelectorAll('#scenario-list li.scenario').length > 0", what="Chinese scenario list")
            assert await page.eval("document.documentElement.lang") == "zh-Hant"
            # The console's link is hidden from a learner (its text is translated all the same).
            assert await page.eval("[...document.querySelectorAll('[data-nav]')].filter(a => !a.closest('[hidden]'))"
                                   ".map(a => a.textContent)") == ["情境", "我的練習", "進度"]
            assert await page.eval("document.querySelector('[data-nav=console]').textContent") == "主控台"
            # The list defaults to the learner's language.
            assert await page.eval("document.querySelector('#language-filter').value") == "zh-Hant"
            ids = await page.eval("[...document.querySelectorAll('#scenario-list li.scenario')].map(li => li.dataset.scenarioId)")
            assert ids == ["refund-angry-customer-zh-hant"]
            await check_view(page, "scenarios-zh-Hant")
            await page.click("[data-scenario-id='refund-angry-customer-zh-hant'] a.button")
            await page.wait_for("document.querySelector('#learner-role')", what="the brief")
            brief = await page.eval("document.querySelector('main').innerText")
            for label in ("你的角色", "你的目標", "難度", "評分項目", "開始練習"):
                assert label in brief

            # The switcher: Spanish now, here and in the account; the list follows.
            await page.eval("location.hash = '#/scenarios'; true")
            await page.wait_for("document.querySelector('#language-filter')")
            await page.eval("(() => { const s = document.querySelector('#ui-language'); s.value = 'es';"
                            " s.dispatchEvent(new Event('change')); return true; })()")
            await page.wait_for("document.querySelector('main h1')?.textContent === 'Elige un escenario' && "
                                "document.querySelector('#language-filter')?.value === 'es'", what="Spanish after switching")
            assert await page.eval("document.querySelector('[data-nav=sessions]').textContent") == "Mis sesiones"
            # The list is fetched again for the new language: wait for it rather than read it at once
            # (it was read empty once, between the heading's change and the list's answer).
            listed = "[...document.querySelectorAll('#scenario-list li.scenario')].map(li => li.dataset.scenarioId)"
            await page.wait_for(f"{listed}.includes('refund-angry-customer-es')", what="the Spanish scenario list")
            assert await page.eval(listed) == ["refund-angry-customer-es"]
            token = (await http.post("/auth/login", json={"email": "mei@example.org", "password": PASSWORD})).json()
            bearer = {"Authorization": f"Bearer {token['access_token']}"}
            me = (await http.get("/auth/me", headers=bearer)).json()
            assert me["preferred_language"] == "es"

            # The report's labels are in the learner's language too (its content is the evaluator's).
            session = (await http.post("/chat/sessions", json={"scenario_id": "refund-angry-customer-es"},
                                       headers=bearer)).json()
            said = await http.post(f"/chat/sessions/{session['id']}/messages", headers=bearer,
                                   json={"text": "Lo siento mucho. ¿Qué pasó con la máquina?"})
            assert said.status_code == 201, said.text
            assert (await http.post(f"/chat/sessions/{session['id']}/end", headers=bearer)).status_code == 200
            evaluation = (await http.post("/evaluations", json={"session_id": session["id"]},
                                          headers={**bearer, "Idempotency-Key": "report-es"})).json()
            await page.eval(f"location.hash = '#/report/{evaluation['id']}'; true")
            await page.wait_for("document.querySelector('#overall-score') && document.querySelector('main h1').textContent === 'Tu evaluación'",
                                what="the report in Spanish")
            report = await page.eval("document.querySelector('#report').innerText")
            for label in ("Criterios", "Estadísticas", "Tus turnos", "Preguntas que hiciste", "Descargar (Markdown)"):
                assert label in report, label
            await check_view(page, "report-es")
            # No catalogue key ever shows as text.
            text = await page.eval("document.body.innerText")
            assert not re.search(r"\b(?:app|nav|scenarios?|practice|report|signin|progress|sessions)\.[a-z_]+\b", text), text
            assert page.console_errors() == []
