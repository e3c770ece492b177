// Sign in or create an account; external sign-in methods from GET /auth/providers.

import { ApiError, auth } from "../api.js";
import { app } from "../app.js";
import { append, clear, field, fill, h, safeHref, showFieldErrors } from "../dom.js";
import { keep } from "../tokens.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const MIN_PASSWORD = 10; // the server's default (auth.password_min_length); the server decides

/**
 * Every problem the page can see before asking the server, as problem+json `errors` would name
 * them, so all of them show at once. The server stays the authority: it checks again, and its
 * answer (a common password, an address already taken) is shown the same way.
 */
function check(fields, rules) {
  const errors = [];
  for (const [name, rule] of Object.entries(rules)) {
    const value = fields[name].input.value;
    const message = rule(value);
    if (message) errors.push({ field: name, message });
  }
  return errors;
}

const required = (what) => (value) => (value.trim() ? "" : `Enter ${what}.`);
const email = (value) => (!value.trim() ? "Enter your email address." : EMAIL.test(value.trim()) ? "" : "This is not an email address.");

const FALLBACK = { providers: [{ name: "local", kind: "password", display_name: "Email and password" }], registration_enabled: true };

export async function renderSignIn(main, ctx, returnTo) {
  let listed = FALLBACK;
  try {
    listed = await auth.providers();
  } catch {
    // keep the password form: the server will say what is wrong when it is used
  }
  if (ctx.signal.aborted) return;
  const password = listed.providers.some((p) => p.name === "local" && p.kind === "password");
  const redirects = listed.providers.filter((p) => p.kind === "redirect" && safeHref(p.login_url));
  const canRegister = password && listed.registration_enabled !== false;

  const heading = h("h1", { tabindex: "-1", text: "Sign in" });
  const card = h("div", { class: "card auth-card" });
  const toggle = h("p", { class: "switch" });

  function show(mode) {
    heading.textContent = mode === "register" ? "Create an account" : "Sign in";
    ctx.setTitle(heading.textContent);
    fill(card, mode === "register" ? registerForm() : signInForm());
    clear(toggle);
    if (canRegister) {
      append(toggle, mode === "register" ? "Already have an account? " : "New here? ",
        h("button", {
          type: "button", class: "link-button", text: mode === "register" ? "Sign in" : "Create an account",
          on: { click: () => { show(mode === "register" ? "signin" : "register"); heading.focus(); } },
        }));
    }
  }

  async function finish(pair, remember) {
    keep(pair, remember);
    await app.signedIn();
    app.go(returnTo || "#/scenarios");
  }

  function rememberBox() {
    const input = h("input", { type: "checkbox", name: "remember", id: "remember" });
    return {
      input,
      field: h("div", { class: "field check" },
        h("label", { class: "choice", for: "remember" }, input, " Keep me signed in on this device"),
        h("p", { class: "hint", text: "Not on a shared computer: the sign-in then outlives the browser tab." })),
    };
  }

  function form(fields, submitLabel, rules, submit, extra = null) {
    const formError = h("p", { class: "form-error", role: "alert", hidden: true });
    const button = h("button", { type: "submit", class: "button primary", text: submitLabel });
    const el = h("form", { novalidate: true }, Object.values(fields).map((f) => f.field), extra, formError, button);
    el.addEventListener("submit", async (event) => {
      event.preventDefault();
      formError.hidden = true;
      const problems = check(fields, rules);
      showFieldErrors(fields, problems);
      if (problems.length) return;
      button.disabled = true;
      el.setAttribute("aria-busy", "true");
      try {
        await submit();
      } catch (error) {
        const matched = error instanceof ApiError && showFieldErrors(fields, error.fieldErrors);
        if (!matched) {
          formError.textContent = error.message;
          formError.hidden = false;
        }
      } finally {
        button.disabled = false;
        el.removeAttribute("aria-busy");
      }
    });
    return el;
  }

  function signInForm() {
    if (!password) return h("p", { text: "Choose a sign-in method below." });
    const fields = {
      email: field("Email", h("input", { type: "email", name: "email", autocomplete: "email", required: true })),
      password: field("Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    };
    const remember = rememberBox();
    const rules = { email, password: required("your password") };
    return form(fields, "Sign in", rules, async () => {
      await finish(await auth.login({ email: fields.email.input.value, password: fields.password.input.value }),
        remember.input.checked);
    }, remember.field);
  }

  function registerForm() {
    const fields = {
      display_name: field("Your name", h("input", { type: "text", name: "display_name", autocomplete: "name", required: true, maxlength: "100" })),
      email: field("Email", h("input", { type: "email", name: "email", autocomplete: "email", required: true })),
      password: field("Password", h("input", { type: "password", name: "password", autocomplete: "new-password", required: true }),
        "At least 10 characters. A few unrelated words make a strong passphrase."),
      preferred_language: field("Preferred language (optional)", h("input", { type: "text", name: "preferred_language", autocomplete: "language", placeholder: "en", maxlength: "35" }),
        "A language tag such as en, es or pt-BR."),
    };
    const remember = rememberBox();
    const rules = {
      display_name: required("your name"),
      email,
      password: (value) => (value.length >= MIN_PASSWORD ? "" : `Use at least ${MIN_PASSWORD} characters.`),
      preferred_language: (value) => (!value.trim() || LANGUAGE_TAG.test(value.trim()) ? "" : "Use a language tag such as en, es or zh-Hant."),
    };
    return form(fields, "Create account", rules, async () => {
      const body = {
        email: fields.email.input.value,
        password: fields.password.input.value,
        display_name: fields.display_name.input.value,
      };
      const language = fields.preferred_language.input.value.trim();
      if (language) body.preferred_language = language;
      await finish(await auth.register(body), remember.input.checked);
    }, remember.field);
  }

  const others = redirects.length
    ? h("div", { class: "providers" },
      h("p", { class: "divider", text: password ? "or" : "" }),
      h("ul", { class: "provider-list" }, redirects.map((p) => h("li", {},
        h("a", { class: "button", href: p.login_url, text: `Continue with ${p.display_name || p.name}` })))))
    : null;

  show("signin");
  fill(main, 
    h("section", { class: "narrow" },
      heading,
      h("p", { class: "lead", text: "Practise difficult conversations with an AI character, then get a scored report with quotes and advice." }),
      card, others, toggle));
}
