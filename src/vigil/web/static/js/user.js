// Who is signed in: the /auth/me answer, kept in memory; the token itself lives in api.js.

import { api, getToken, setToken } from "./api.js";

let me = null;
const listeners = new Set();

export function currentUser() {
  return me;
}

export function can(permission) {
  return Boolean(me && Array.isArray(me.permissions) && me.permissions.includes(permission));
}

export function isSignedIn() {
  return Boolean(getToken());
}

export async function loadMe() {
  me = await api.get("/auth/me");
  listeners.forEach((fn) => fn(me));
  return me;
}

export async function signIn(username, password) {
  const answer = await api.login(username, password);
  setToken(answer.token);
  return loadMe();
}

export async function signOut() {
  try {
    if (getToken()) await api.post("/auth/logout");
  } catch {
    /* the token may already be invalid; leaving is what matters */
  }
  forget();
}

export function forget() {
  setToken(null);
  me = null;
  listeners.forEach((fn) => fn(null));
}

export function onUserChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
