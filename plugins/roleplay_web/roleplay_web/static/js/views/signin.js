// Sign in or create an account; external sign-in methods from GET /auth/providers.

import { ApiError, auth } from "../api.js";
import { app } from "../app.js";
import { append, clear, field, fill, h, safeHref, showFieldErrors } from "../dom.js";
import { keep } from "../tokens.js";
import { t } from "../i18n.js";

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

const required = (key) => (value) => (value.trim() ? "" : t(key));
const email = (value) => (!value.trim() ? t("signin.need_email") : EMAIL.test(value.trim()) ? "" : t("signin.bad_email"));

const FALLBACK = { items: [{ name: "local", kind: "password", display_name: "" }], registration_enabled: true };

export async function renderSignIn(main, ctx, returnTo) {
  let listed = FALLBACK;
  try {
    listed = await auth.providers();
  } catch {
    // keep the password form: the server will say what is wrong when it is used
  }
  if (ctx.signal.aborted) return;
  const password = listed.items.some((p) => p.name === "local" && p.kind === "password");
  const redirects = listed.items.filter((p) => p.kind === "redirect" && safeHref(p.login_url));
  const canRegister = password && listed.registration_enabled !== false;

  const heading = h("h1", { tabindex: "-1", text: t("signin.title") });
  const card = h("div", { class: "card auth-card" });
  const toggle = h("p", { class: "switch" });

  function show(mode) {
    heading.textContent = mode === "register" ? t("signin.register_title") : t("signin.title");
    ctx.setTitle(heading.textContent);
    fill(card, mode === "register" ? registerForm() : signInForm());
    clear(toggle);
    if (canRegister) {
      append(toggle, mode === "register" ? t("signin.have_account") : t("signin.new_here"),
        h("button", {
          type: "button", class: "link-button", text: mode === "register" ? t("signin.title") : t("signin.register_title"),
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
        h("label", { class: "choice", for: "remember" }, input, ` ${t("signin.remember")}`),
        h("p", { class: "hint", text: t("signin.remember_hint") })),
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
    if (!password) return h("p", { text: t("signin.choose_method") });
    const fields = {
      email: field(t("signin.email"), h("input", { type: "email", name: "email", autocomplete: "email", required: true })),
      password: field(t("signin.password"), h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    };
    const remember = rememberBox();
    const rules = { email, password: required("signin.need_password") };
    return form(fields, t("signin.submit"), rules, async () => {
      await finish(await auth.login({ email: fields.email.input.value, password: fields.password.input.value }),
        remember.input.checked);
    }, remember.field);
  }

  function registerForm() {
    const fields = {
      display_name: field(t("signin.name"), h("input", { type: "text", name: "display_name", autocomplete: "name", required: true, maxlength: "100" })),
      email: field(t("signin.email"), h("input", { type: "email", name: "email", autocomplete: "email", required: true })),
      password: field(t("signin.password"), h("input", { type: "password", name: "password", autocomplete: "new-password", required: true }),
        t("signin.password_hint")),
      preferred_language: field(t("signin.language"), h("input", { type: "text", name: "preferred_language", autocomplete: "language", placeholder: "en", maxlength: "35" }),
        t("signin.language_hint")),
    };
    const remember = rememberBox();
    const rules = {
      display_name: required("signin.need_name"),
      email,
      password: (value) => (value.length >= MIN_PASSWORD ? "" : t("signin.short_password", { count: MIN_PASSWORD })),
      preferred_language: (value) => (!value.trim() || LANGUAGE_TAG.test(value.trim()) ? "" : t("signin.bad_language")),
    };
    return form(fields, t("signin.create"), rules, async () => {
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
      h("p", { class: "divider", text: password ? t("signin.or") : "" }),
      h("ul", { class: "provider-list" }, redirects.map((p) => h("li", {},
        h("a", { class: "button", href: p.login_url, text: t("signin.continue_with", { name: p.display_name || p.name }) })))))
    : null;

  show("signin");
  fill(main, 
    h("section", { class: "narrow" },
      heading,
      h("p", { class: "lead", text: t("signin.lead") }),
      card, others, toggle));
}
