// Small DOM builder: h("div", {class: "x", onclick: fn}, child, ...) returns an element.
// Strings become text nodes (never HTML), so data from the server cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  let deferredValue;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "testid") {
      el.dataset.testid = value;
    } else if (key === "value") {
      deferredValue = value; // a <select> takes its value only once its options exist
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      el[key] = value;
      if (value === true) el.setAttribute(key, "");
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  if (deferredValue !== undefined) el.value = deferredValue;
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = "v") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

export function debounce(fn, delayMs) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), delayMs);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
