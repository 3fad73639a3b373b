// Glossary pop-ups. Without this script each marked word is a plain link to its
// definition further down the page; with it, the link opens the definition in place.
(function () {
  "use strict";
  var open = null;

  function close(returnFocus) {
    if (!open) return;
    open.link.setAttribute("aria-expanded", "false");
    open.box.remove();
    if (returnFocus) open.link.focus();
    open = null;
  }

  function show(link) {
    var id = link.getAttribute("href").slice(1);
    var source = document.getElementById(id);
    if (!source || !source.nextElementSibling) return false;
    close(false);
    var box = document.createElement("span");
    box.className = "term-popover";
    box.id = "popover-" + id;
    box.setAttribute("role", "note");
    var heading = document.createElement("strong");
    heading.textContent = source.textContent.trim() + ": ";
    box.appendChild(heading);
    box.appendChild(document.createTextNode(source.nextElementSibling.textContent.trim() + " "));
    var closeButton = document.createElement("button");
    closeButton.type = "button";
    closeButton.className = "term-popover-close";
    closeButton.textContent = "Close";
    closeButton.addEventListener("click", function () { close(true); });
    box.appendChild(closeButton);
    link.insertAdjacentElement("afterend", box);
    link.setAttribute("aria-expanded", "true");
    link.setAttribute("aria-controls", box.id);
    open = { link: link, box: box };
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.term");
    if (link) {
      if (open && open.link === link) {
        close(false);
        event.preventDefault();
      } else if (show(link)) {
        event.preventDefault();
      }
    } else if (open && !open.box.contains(event.target)) {
      close(false);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && open) close(true);
  });

  document.querySelectorAll("a.term").forEach(function (link) {
    link.setAttribute("aria-expanded", "false");
  });
})();
