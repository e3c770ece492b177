// The app shell: sign-in state, the hash router (#/scenarios, #/practice/<id>...), the header.

import { auth, onSignedOut, refresh } from "./api.js";
import { app } from "./app.js";
import { append, clear, fill, h } from "./dom.js";
import { LANGUAGES, language, t } from "./i18n.js";
import { accessToken, forget, refreshToken, takeFromFragment } from "./tokens.js";
import { renderSignIn } from "./views/signin.js";
import { renderScenario, renderScenarios } from "./views/scenarios.js";
import { renderPractice } from "./views/practice.js";
import { renderReport } from "./views/report.js";
import { renderSessions } from "./views/sessions.js";
import { renderProgress } from "./views/progress.js";
import { renderConsoleImport, renderConsoleScripts } from "./views/console_scripts.js";
import { renderScriptEditor } from "./views/console_editor.js";
import { renderScriptVersions } from "./views/console_versions.js";
import { renderAudit, renderSessionTranscript, renderUser, renderUsers } from "./views/console_users.js";
import { hasRole } from "./console.js";

const main = document.getElementById("main");

// The third column names the nav link that is this very page (aria-current="page"). A view
// reached from more than one place (a session, a report, a scenario's brief) marks none:
// highlighting "My sessions" there pointed at a page the learner was not on. The fourth column is
// the role a view needs: without it the page says "Page not found", exactly as for an address that
// does not exist, and calls nothing (the server would refuse the calls anyway).
const ROUTES = [
  [/^#\/scenarios\/?$/, renderScenarios, "scenarios"],
  [/^#\/scenarios\/([^/]+)$/, renderScenario, ""],
  [/^#\/practice\/([^/]+)$/, renderPractice, ""],
  [/^#\/report\/([^/]+)$/, renderReport, ""],
  [/^#\/sessions\/?$/, renderSessions, "sessions"],
  [/^#\/progress\/?$/, renderProgress, "progress"],
  [/^#\/console\/?$/, renderConsoleScripts, "console", "scripter"],
  [/^#\/console\/scripts\/?$/, renderConsoleScripts, "console", "scripter"],
  [/^#\/console\/new-script$/, renderScriptEditor, "console", "scripter"],
  [/^#\/console\/scripts\/([^/?]+)$/, renderScriptEditor, "console", "scripter"],
  [/^#\/console\/scripts\/([^/?]+)\/versions$/, renderScriptVersions, "console", "scripter"],
  [/^#\/console\/import$/, renderConsoleImport, "console", "scripter"],
  [/^#\/console\/users\/?$/, renderUsers, "console", "admin"],
  [/^#\/console\/users\/([^/?]+)$/, renderUser, "console", "admin"],
  [/^#\/console\/sessions\/([^/?]+)$/, renderSessionTranscript, "console", "admin"],
  [/^#\/console\/audit(?:\?(.*))?$/, renderAudit, "console", "admin"],
];

/** The route for a hash: no hash, "#" and "#/" are the home page (the scenario list). */
function routeOf(hash) {
  return !hash || hash === "#" || hash === "#/" ? "#/scenarios" : hash;
}

let current = null; // the AbortController of the view on screen

function markNav(section) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** Render the view for the current hash. Views get {signal, params, setTitle}. */
async function render() {
  const hash = routeOf(window.location.hash);
  if (!hash.startsWith("#/")) return; // an in-page anchor, not a route
  current?.abort();
  const controller = new AbortController();
  current = controller;
  app.notify("");
  clear(main);
  append(main, h("p", { class: "loading", text: t("app.loading") }));
  const context = {
    signal: controller.signal,
    params: [],
    setTitle(text) {
      document.title = text ? `${text} · ${app.title}` : app.title;
    },
  };
  try {
    if (!app.user) {
      markNav("");
      context.setTitle(t("signin.title"));
      await renderSignIn(main, context, hash === "#/signin" ? "#/scenarios" : hash);
    } else {
      const found = ROUTES.find(([pattern, , , role]) => pattern.test(hash) && (!role || hasRole(app.user, role)));
      if (!found) {
        markNav("");
        context.setTitle(t("app.not_found_title"));
        fill(main, h("h1", { tabindex: "-1", text: t("app.not_found") }),
          h("p", {}, h("a", { href: "#/scenarios", text: t("app.choose_scenario") })));
      } else {
        const [pattern, view, section] = found;
        context.params = pattern.exec(hash).slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
        markNav(section);
        await view(main, context);
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    fill(main, h("h1", { tabindex: "-1", text: t("app.error") }),
      h("p", { text: error.message || String(error) }),
      h("p", {}, h("a", { href: "#/scenarios", text: t("app.back_to_scenarios") })));
  }
  if (!controller.signal.aborted) {
    // The heading, unless someone already moved on inside the new view while it loaded (a field
    // they are typing in, a confirmation that took the focus): that focus is theirs to keep.
    const focused = document.activeElement;
    if (!focused || focused === document.body || focused === main || !main.contains(focused)) {
      main.querySelector("h1")?.focus();
    }
  }
}

async function signOut() {
  const token = refreshToken();
  forget();
  app.user = null;
  app.showAccount();
  if (token) {
    try {
      await auth.logout(token); // revokes this sign-in's refresh tokens on the server
    } catch {
      // signed out here anyway
    }
  }
  app.go("#/signin");
}

onSignedOut(() => {
  if (!app.user) return;
  app.user = null;
  app.showAccount();
  app.go("#/signin");
  app.notify(t("app.signed_out"));
});

/** The header's language switcher: each language named in itself. */
function showSwitcher() {
  const select = document.getElementById("ui-language");
  fill(select, LANGUAGES.map((l) => h("option", { value: l.tag, lang: l.tag, text: l.name, selected: l.tag === language() })));
}

async function switchLanguage(event) {
  await app.chooseLanguage(event.target.value);
  showSwitcher();
  await render(); // the view on screen, in the new language
}

async function boot() {
  await app.chooseLanguage(null); // the browser's language until the account says otherwise
  document.getElementById("ui-language").addEventListener("change", switchLanguage);
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // the hash is the router's; move focus instead
    main.focus();
  });
  window.addEventListener("hashchange", render);
  const fromOAuth = takeFromFragment();
  if (accessToken() || (refreshToken() && (await refresh()))) {
    try {
      await app.signedIn();
    } catch {
      forget();
      app.user = null;
    }
  }
  if (fromOAuth && !app.user) app.notify(t("app.oauth_failed"));
  showSwitcher();
  showSwitcher();
  document.getElementById("loading")?.remove();
  await render();
}

boot();
