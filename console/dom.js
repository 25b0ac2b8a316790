// Builds DOM nodes from data without ever parsing data as HTML: strings become text nodes and
// attributes go through setAttribute, so request fields (hostile by default) cannot inject markup.

/**
 * h("p", { class: "x" }, "text", child) → <p class="x">text<child></p>.
 * null/undefined/false children are skipped; arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "hidden" || name === "disabled") el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Shows a message in a notice element, or hides it when the message is empty. */
export function notice(el, message) {
  el.textContent = message ?? "";
  el.hidden = !message;
}

/** A card with a labelled heading: the pages' sections. */
export const section = (id, title, ...body) => h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...body);

/** A definition list from [term, value] pairs; null values are skipped. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts-grid" },
    pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
  );
}
