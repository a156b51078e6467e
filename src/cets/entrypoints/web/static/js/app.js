// The shell: log in by key, the navigation a role may see, the hash router, the language switch.
// Each view is a module exporting `view = {id, label, roles, render(root, ctx)}`; `render` may
// return a function that stops what it started (streams, timers) when the view is left.

import { api, ApiError, key, setKey, el, toastError } from "./api.js";
import { lang, setLang, t, translate } from "./i18n.js";
// Views load each on its own: one that fails to load is left out of the navigation (and said
// on the console) instead of taking the whole dashboard down.
const MODULES = ["market", "account", "registry", "compliance", "supervision"];
const VIEWS = (
  await Promise.all(
    MODULES.map((name) =>
      import(`./${name}.js`).then(
        (module) => module.view,
        (error) => console.warn(`view ${name} not loaded: ${error}`),
      ),
    ),
  )
).filter(Boolean);
const state = { me: null, dispose: null };

function allowed(view) {
  return !view.roles || (state.me && view.roles.includes(state.me.role));
}

function renderNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...VIEWS.filter(allowed).map((v) =>
      el("a", { href: `#/${v.id}`, "data-i18n": v.label, dataset: { view: v.id } }),
    ),
  );
  const who = document.getElementById("who");
  who.textContent = state.me ? `${state.me.name} · ${t("role." + state.me.role)}` : "";
  document.getElementById("logout").hidden = !state.me;
  document.getElementById("lang").textContent = t("lang.switch");
  tick();
  translate(document.querySelector("header"));
}

function renderLogin(root, failed) {
  const input = el("input", {
    id: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    "data-i18n-ph": "login.key",
    "data-testid": "login-key",
  });
  const form = el("form", { class: "card login", "data-testid": "login" }, [
    el("h2", { "data-i18n": "login.title" }),
    el("p", { class: "muted", "data-i18n": "login.hint" }),
    input,
    failed ? el("p", { class: "bad", "data-i18n": "login.bad" }) : null,
    el("button", { type: "submit", "data-i18n": "login.submit", "data-testid": "login-submit" }),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    await start();
  });
  root.replaceChildren(form);
  translate(root);
  input.focus();
}

async function route() {
  if (state.dispose) state.dispose();
  state.dispose = null;
  const root = document.getElementById("view");
  const wanted = location.hash.replace(/^#\//, "") || "market";
  const found = VIEWS.find((v) => v.id === wanted && allowed(v));
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === found?.id);
  }
  if (!found) {
    location.hash = "#/market";
    return;
  }
  root.replaceChildren();
  root.dataset.view = found.id;
  const ctx = { me: state.me, rerender: route };
  try {
    state.dispose = (await found.render(root, ctx)) || null;
  } catch (error) {
    toastError(error);
  }
  translate(root);
}

async function start() {
  if (!key()) {
    state.me = null;
    renderNav();
    renderLogin(document.getElementById("view"), false);
    return;
  }
  try {
    state.me = await api("/v1/me");
  } catch (error) {
    setKey(null);
    state.me = null;
    renderNav();
    renderLogin(document.getElementById("view"), error instanceof ApiError);
    return;
  }
  renderNav();
  await route();
}

// The market's clock in the header: its time (Beijing), whether trading is open, and whether it
// is the demo's clock (`cets serve --demo`) rather than the wall clock.
async function tick() {
  try {
    const clock = await api("/v1/market/clock");
    const parts = [clock.now.slice(0, 16).replace("T", " "), t(`clock.${clock.session}`)];
    if (clock.demo) parts.push(t("clock.demo"));
    const box = document.getElementById("clock");
    box.textContent = parts.join(" · ");
    box.className = clock.session === "open" ? "up" : "muted";
  } catch {
    // the server is away: keep the last time shown
  }
}
setInterval(tick, 5000);
tick();

document.getElementById("lang").addEventListener("click", async () => {
  setLang(lang() === "zh" ? "en" : "zh");
  renderNav();
  if (state.me) await route();
  else translate(document.getElementById("view"));
});
document.getElementById("logout").addEventListener("click", () => {
  setKey(null);
  location.hash = "";
  start();
});
window.addEventListener("hashchange", () => state.me && route());
setLang(lang());
start();
