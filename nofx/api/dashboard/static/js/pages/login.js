import { login, loggedIn } from "../api.js";
import { h } from "../util.js";

export async function render(main) {
  if (loggedIn()) { location.hash = "#/traders"; return; }
  const err = h("p", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "card login", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    button.disabled = true;
    try {
      await login(user.value.trim(), pass.value);
      location.hash = "#/traders";
    } catch (e) {
      err.textContent = e.status === 429 ? e.message : "Invalid username or password.";
    } finally {
      button.disabled = false;
    }
  } },
  h("h1", {}, "nofx"),
  h("p", { class: "muted" }, "AI-driven trading for China A-shares and Hong Kong stocks"),
  h("label", {}, "Username", user), h("label", {}, "Password", pass), button, err);
  main.append(h("div", { class: "center" }, form));
}
