// Hash router: "#/points/12?class=1" → route "/points/:id" with params {id} and query {class}.

const routes = [];
let notFound = null;
let current = null; // {cleanup}
let renderTarget = null;
let beforeEach = () => true;

export function route(pattern, loader) {
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (part.startsWith(":")) {
        names.push(part.slice(1));
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  routes.push({ pattern, regex: new RegExp(`^${source}/?$`), names, loader });
}

export function fallback(loader) {
  notFound = loader;
}

/** guard(location) returns true to render, or false when it has redirected elsewhere. */
export function guard(fn) {
  beforeEach = fn;
}

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#/, "") || "/";
  const [path, search = ""] = text.split("?");
  return { path: path || "/", query: Object.fromEntries(new URLSearchParams(search)) };
}

export function buildHash(path, query = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

export function navigate(path, query) {
  const hash = buildHash(path, query);
  if (location.hash === hash) refresh();
  else location.hash = hash;
}

/** Rewrites the query of the current entry without rendering again (filters, paging). */
export function replaceQuery(query) {
  const { path } = parseHash();
  history.replaceState(history.state, "", buildHash(path, query));
}

export function currentPath() {
  return parseHash().path;
}

export async function refresh() {
  if (!renderTarget) return;
  const location_ = parseHash();
  if (!beforeEach(location_)) return;
  let match = null;
  for (const r of routes) {
    const m = r.regex.exec(location_.path);
    if (m) {
      const params = {};
      r.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      match = { loader: r.loader, params };
      break;
    }
  }
  if (current && typeof current.cleanup === "function") current.cleanup();
  current = null;
  const loader = match ? match.loader : notFound;
  const params = match ? match.params : {};
  const token = {};
  current = token;
  const page = await loader();
  if (current !== token) return; // another navigation started meanwhile
  renderTarget.replaceChildren();
  const cleanup = page.render(renderTarget, params, location_.query);
  token.cleanup = cleanup;
}

export function start(target) {
  renderTarget = target;
  window.addEventListener("hashchange", () => refresh());
  return refresh();
}
