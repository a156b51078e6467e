// The one way the dashboard talks to the server: `api(path, {method, body})` with the
// person's key, answering the parsed JSON or throwing an `ApiError` carrying the problem+json
// (its stable `code`, the `field` and the `detail`), which `toastError` shows.

const KEY = "cets.key";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || `http_${status}`;
    this.field = problem.field || null;
  }
}

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export async function api(path, { method = "GET", body, params } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (key()) headers["X-API-Key"] = key();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, data || {});
  return data;
}

// A client id for a write: repeating a write with it returns the first answer (idempotent).
export function clientId(prefix) {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
}

export function toast(message, kind = "info") {
  const box = document.createElement("div");
  box.className = `toast ${kind}`;
  box.textContent = message;
  document.getElementById("toasts").append(box);
  setTimeout(() => box.remove(), kind === "error" ? 8000 : 4000);
}

export function toastError(error) {
  if (error instanceof ApiError) {
    const field = error.field ? ` [${error.field}]` : "";
    toast(`${error.code}${field}: ${error.message}`, "error");
  } else {
    toast(String(error), "error");
  }
}

// Elements without a framework: el("td", {class: "num"}, "12") and el("tr", {}, [td, td]).
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of [].concat(children)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Quantities are integer tonnes; amounts arrive as decimal strings of yuan ("60.20") and are
// shown as they came, grouped, never through a float.
export function tonnes(n) {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : String(n);
}

export function money(text) {
  if (text === null || text === undefined) return "";
  const [whole, cents = ""] = String(text).split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = sign ? whole.slice(1) : whole;
  return `${sign}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${cents ? "." + cents : ""}`;
}

// A table from rows: columns are [label key, cell function, class].
export function table(columns, rows, t, attrs = {}) {
  const head = el("tr", {}, columns.map(([label, , cls]) => el("th", { class: cls }, t(label))));
  const body = rows.length
    ? rows.map((row) =>
        el("tr", {}, columns.map(([, cell, cls]) => el("td", { class: cls }, cell(row)))),
      )
    : [el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, t("common.none")))];
  return el("table", attrs, [el("thead", {}, head), el("tbody", {}, body)]);
}
