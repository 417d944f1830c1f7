/*
 * Shows a glossary term's definition in a small card while a reader hovers over, or tabs to, a
 * {term} link. The build (book/_ext/lossbook_glossary.py) writes the definition into the link's
 * title; this script moves it to data-definition so the browser's own tooltip does not appear too.
 */
(function () {
  "use strict";
  const MARGIN = 8;
  const card = document.createElement("div");
  card.id = "lossbook-term-card";
  card.className = "lossbook-term-card";
  card.setAttribute("role", "tooltip");
  card.hidden = true;

  function show(link) {
    card.textContent = link.dataset.definition;
    card.hidden = false;
    link.setAttribute("aria-describedby", card.id);
    const box = link.getBoundingClientRect();
    const widest = document.documentElement.clientWidth - card.offsetWidth - MARGIN;
    card.style.left = Math.max(MARGIN, Math.min(box.left, widest)) + window.scrollX + "px";
    card.style.top = box.bottom + window.scrollY + 6 + "px";
  }

  function hide(link) {
    card.hidden = true;
    link.removeAttribute("aria-describedby");
  }

  function attach() {
    document.body.append(card);
    document.querySelectorAll("a.reference.internal[title] > .std-term").forEach(function (term) {
      const link = term.parentElement;
      link.dataset.definition = link.title;
      link.removeAttribute("title");
      link.addEventListener("mouseenter", function () { show(link); });
      link.addEventListener("focus", function () { show(link); });
      link.addEventListener("mouseleave", function () { hide(link); });
      link.addEventListener("blur", function () { hide(link); });
      link.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          hide(link);
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
})();
