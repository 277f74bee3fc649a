// JSON client for /api/v1: bearer token from sessionStorage, one error type for every failure.

const BASE = "/api/v1";
const TOKEN_KEY = "vigil.token";

let unauthorizedHandler = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called (once per failing request) when the server answers 401 to an authenticated call. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function queryString(params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const err = body && body.error;
  if (err && typeof err === "object") {
    return new ApiError(response.status, err.code || "error", err.message || "", err.details);
  }
  const detail = body && body.detail; // framework-level errors not shaped by the API
  if (Array.isArray(detail)) {
    const details = detail.map((d) => ({
      field: Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "",
      reason: d.msg || "",
    }));
    return new ApiError(response.status, "validation_failed", "", details);
  }
  return new ApiError(response.status, `http_${response.status}`, typeof detail === "string" ? detail : "");
}

/** Low-level request; returns the Response on 2xx and throws ApiError otherwise. */
export async function request(method, path, { params, json, body, auth = true } = {}) {
  const headers = {};
  const token = getToken();
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(`${BASE}${path}${queryString(params)}`, { method, headers, body: payload });
  } catch (exc) {
    throw new ApiError(0, "network", exc && exc.message ? exc.message : "");
  }
  if (response.ok) return response;
  const error = await errorFrom(response);
  if (response.status === 401 && auth) {
    setToken(null);
    unauthorizedHandler(error);
  }
  throw error;
}

async function jsonOf(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: async (path, params) => jsonOf(await request("GET", path, { params })),
  post: async (path, json, params) => jsonOf(await request("POST", path, { json, params })),
  patch: async (path, json) => jsonOf(await request("PATCH", path, { json })),
  put: async (path, json) => jsonOf(await request("PUT", path, { json })),
  del: async (path) => jsonOf(await request("DELETE", path)),

  /** multipart/form-data upload of one file under the field name "file". */
  upload: async (path, file, params) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return jsonOf(await request("POST", path, { body: form, params }));
  },

  /** Fetches a file with the bearer header and hands it to the browser as a download. */
  download: async (path, params, fallbackName) => {
    const response = await request("GET", path, { params });
    const blob = await response.blob();
    const name = fileNameFrom(response.headers.get("Content-Disposition")) || fallbackName;
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return name;
  },

  login: async (username, password) =>
    jsonOf(await request("POST", "/auth/login", { json: { username, password }, auth: false })),
};

function fileNameFrom(disposition) {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      /* fall through to the plain name */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1].trim() : null;
}
