// Where the tokens live (docs/web.md explains the choice).
//
// - The access token (a 15-minute JWT) is kept only in this module's memory: no storage API,
//   no cookie. A reload loses it, and the refresh token gets a new one.
// - The refresh token is kept in sessionStorage by default: it survives a reload of this tab,
//   but not closing the tab, and other tabs and windows cannot read it. With "Keep me signed
//   in" it is kept in localStorage instead, so it outlives the tab (and is shared by this
//   site's tabs, which is why api.js serialises refreshes across tabs). Never both at once.
//   Script running in this page could read it, which is why the page allows no inline or
//   foreign script (CSP) and never turns text into markup. Each refresh token works once: the
//   server rotates it on every refresh and revokes the whole sign-in if a spent one is
//   presented again.

const REFRESH_KEY = "roleplay.refresh_token";
let access = null;

function tabStore() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the sign-in lasts until reload
  }
}

function deviceStore() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function accessToken() {
  return access;
}

export function refreshToken() {
  return tabStore()?.getItem(REFRESH_KEY) || deviceStore()?.getItem(REFRESH_KEY) || null;
}

/** True when the sign-in is kept on this device ("Keep me signed in"). */
export function remembered() {
  return Boolean(deviceStore()?.getItem(REFRESH_KEY));
}

/**
 * Keep a token pair from /auth/login, /auth/register, /auth/refresh or the OAuth fragment.
 * `remember` chooses the device (true) or the tab (false); by default a rotated token stays
 * where its predecessor was.
 */
export function keep(pair, remember = remembered()) {
  access = pair.access_token || null;
  if (!pair.refresh_token) return;
  const [target, other] = remember ? [deviceStore(), tabStore()] : [tabStore(), deviceStore()];
  other?.removeItem(REFRESH_KEY);
  target?.setItem(REFRESH_KEY, pair.refresh_token);
}

export function forget() {
  access = null;
  tabStore()?.removeItem(REFRESH_KEY);
  deviceStore()?.removeItem(REFRESH_KEY);
}

/**
 * After an OAuth sign-in the server redirects here with the tokens in the URL fragment
 * (#access_token=...&refresh_token=...). Take them and wipe the fragment from the address
 * bar and history at once, so they are not bookmarked, shared or left in history.
 */
export function takeFromFragment() {
  const hash = window.location.hash;
  if (!hash.includes("access_token=")) return false;
  const params = new URLSearchParams(hash.slice(1));
  history.replaceState(null, "", window.location.pathname + window.location.search + "#/scenarios");
  const pair = { access_token: params.get("access_token"), refresh_token: params.get("refresh_token") };
  if (!pair.access_token) return false;
  keep(pair, false);
  return true;
}
