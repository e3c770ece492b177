// Shared app state: the signed-in user and page-wide helpers (no imports of views here).

import { auth } from "./api.js";

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

  /** Load the signed-in user (after a sign-in or a refresh) and show the account header. */
  async signedIn() {
    app.user = await auth.me();
    app.showAccount();
  },

  showAccount() {
    const signedIn = Boolean(app.user);
    document.getElementById("nav").hidden = !signedIn;
    document.getElementById("account").hidden = !signedIn;
    document.getElementById("who").textContent = signedIn ? app.user.display_name || app.user.email || "" : "";
  },
};
