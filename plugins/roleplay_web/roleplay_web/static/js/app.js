// Shared app state: the signed-in user and page-wide helpers (no imports of views here).

import { auth, users } from "./api.js";
import { canScript } from "./console.js";
import { pick, use } from "./i18n.js";

const notice = document.getElementById("notice");

export const app = {
  user: null,
  title: document.body.dataset.title || "Roleplay",

  /** Show a message in the page-wide alert region (for errors that belong to no form). */
  notify(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  },

  /** Navigate to a route; re-renders when already there. */
  go(hash) {
    if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else window.location.hash = hash;
  },

  /** The language picked with the switcher during this visit; it wins over the others. */
  chosenLanguage: null,

  /**
   * Put the interface in a language: `tag` when the learner picked one with the switcher
   * (saved as the account's preferred language when signed in), else the account's preferred
   * language, else the browser's, else English.
   */
  async chooseLanguage(tag) {
    if (tag) {
      app.chosenLanguage = tag;
      if (app.user && app.user.preferred_language !== tag) {
        try {
          app.user = await users.updateMe({ preferred_language: tag });
        } catch {
          // shown in this tab anyway; the account keeps its old preference
        }
      }
    }
    return use(pick(app.chosenLanguage, app.user?.preferred_language, navigator.languages || [], navigator.language));
  },

  /** Load the signed-in user (after a sign-in or a refresh) and show the account header. */
  async signedIn() {
    app.user = await auth.me();
    await app.chooseLanguage(null);
    document.getElementById("ui-language").value = document.documentElement.lang;
    app.showAccount();
  },

  showAccount() {
    const signedIn = Boolean(app.user);
    document.getElementById("nav").hidden = !signedIn;
    // The console's link, for scripters and admins only (the server refuses everyone else's calls).
    document.getElementById("nav-console").hidden = !canScript(app.user);
    document.getElementById("account").hidden = !signedIn;
    document.getElementById("who").textContent = signedIn ? app.user.display_name || app.user.email || "" : "";
  },
};
