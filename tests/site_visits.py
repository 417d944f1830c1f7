"""Open pages of the built site in Chromium and read what a reader would see.

``open_page`` loads one page in a fresh browser context (no cache, no stored
theme choice) and records its console errors and every request it makes; the other
functions evaluate small scripts in the loaded page.
"""

import contextlib
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

WAIT_FOR_MATH = """async () => {
  if (!window.MathJax || !MathJax.startup) return null;
  await MathJax.startup.promise;
  return performance.now();
}"""

MATH_STATE = r"""() => {
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("pre, code, script, style, textarea, mjx-container")) continue;
    if (/\\\(|\\\[|\$\$/.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  return {
    math: document.querySelectorAll(".math").length,
    typeset: document.querySelectorAll(".math mjx-container").length,
    errors: document.querySelectorAll("mjx-merror").length,
    raw: raw,
  };
}"""

BROKEN_IMAGES = """async () => {
  const images = [...document.images];
  await Promise.all(images.map((img) => {
    img.loading = "eager";
    return img.decode().catch(() => null);
  }));
  return images.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.src);
}"""

HEAD = """() => ({
  title: document.title,
  description: (document.querySelector('meta[name="description"]') || {}).content || "",
})"""

# How wide the page is, and the first elements that stick out of the viewport without a
# scrolling box around them to contain them.
SIDEWAYS = """() => {
  const contained = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") return true;
    }
    return false;
  };
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    culprits: [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !contained(el))
      .slice(0, 3)
      .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}: `
        + el.textContent.trim().slice(0, 60)),
  };
}"""

# Each equation's text colour and the colour behind it: translucent backgrounds (a tinted
# admonition, say) are blended over their ancestors' down to the first opaque one.
MATH_COLOURS = r"""() => {
  const rgba = (css) => {
    const values = css.match(/[\d.]+/g).map(Number);
    return values.length === 4 ? values : values.concat([1]);
  };
  const behind = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const layer = rgba(getComputedStyle(node).backgroundColor);
      layers.push(layer);
      if (layer[3] === 1) break;
    }
    let colour = [255, 255, 255];
    layers.reverse().forEach(([r, g, b, a]) => {
      colour = [r, g, b].map((c, i) => a * c + (1 - a) * colour[i]);
    });
    return colour;
  };
  return [...document.querySelectorAll("mjx-container")].slice(0, 40)
    .map((el) => [rgba(getComputedStyle(el).color).slice(0, 3), behind(el)]);
}"""

# Where each figure (an image in the article, or a widget's plot) sits on the page, in page pixels.
FIGURE_BOXES = """() => {
  const figures = document.querySelectorAll("article.bd-article img, .lossbook-widget svg.lbw-plot");
  return [...figures]
    .map((el) => [el.getAttribute("src") || el.getAttribute("aria-label"), el.getBoundingClientRect()])
    .filter(([, box]) => box.width > 0 && box.height > 0)
    .map(([name, b]) => [name, [b.left + scrollX, b.top + scrollY, b.right + scrollX, b.bottom + scrollY]]);
}"""


# Each framework tab-set on the page: the frameworks it offers, and the one it shows.
SELECTED_FRAMEWORKS = """() => [...document.querySelectorAll(".sd-tab-set")]
  .filter((set) => set.querySelector('label[data-sync-group="framework"]'))
  .map((set) => [
    [...set.querySelectorAll(':scope > label[data-sync-group="framework"]')].map((l) => l.dataset.syncId),
    document.querySelector(`label[for="${set.querySelector(':scope > input:checked').id}"]`).dataset.syncId,
  ])"""


# The search boxes and buttons a reader can see on the page.
SEARCH_BOXES = """() => [...document.querySelectorAll(".search-button-field, .search-button, input[type=search]")]
  .filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  })
  .map((el) => el.className)"""


SET_VALUE = """(el, value) => {
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  return el.value;
}"""


def chromium_path():
    """Debian's Chromium, or None."""
    return shutil.which("chromium")


def launch(playwright):
    """Start headless Chromium with no background traffic of its own."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


@contextlib.contextmanager
def open_page(browser, url, *, width=1280, mode="light"):
    """Load ``url`` and wait for its math; yield the page and {"errors": [...], "requests": [...]}.

    ``mode`` is the reader's system colour scheme; like a first-time reader, the page has no
    stored choice of its own, so the theme follows the system.
    """
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=mode)
    page = context.new_page()
    seen = {"errors": [], "requests": []}
    page.on("console", lambda message: message.type == "error" and seen["errors"].append(message.text))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))
    try:
        page.goto(url, wait_until="load")
        page.evaluate(WAIT_FOR_MATH)
        yield page, seen
    finally:
        context.close()


def set_value(locator, value):
    """Set an input's value as a reader would (the input event fires); return the value it took."""
    return locator.evaluate(SET_VALUE, str(value))


def readouts(widget):
    """A widget's computed numbers: {quantity: value}, or {quantity: [values]} when repeated."""
    found = {}
    for quantity, value in widget.locator("output[data-quantity]").evaluate_all(
        "outputs => outputs.map(o => [o.dataset.quantity, Number(o.dataset.value)])"
    ):
        found.setdefault(quantity, []).append(value)
    return {q: v[0] if len(v) == 1 else v for q, v in found.items()}
