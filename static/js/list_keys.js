// j/k (and the arrow keys) walk the rows of a list in its own order; Enter or o opens the selected row's event, whose
// page then walks on through the same list (walk.js). Any table marked data-walk: the most informative and likely
// mislabelled lists, label disagreements, the event search results.
"use strict";
(function () {
  const table = document.querySelector("table[data-walk]");
  if (!table) return;
  const rows = () => Array.from(table.tBodies[0].rows).filter((row) => row.querySelector("a"));
  let selected = -1;
  window.seistriageWalk.remember(table);  // the events it opens walk this list in this order (walk.js)

  function select(index) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => {
      row.classList.toggle("selected", i === selected);
      row.setAttribute("aria-selected", i === selected ? "true" : "false");
    });
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function open() {
    const row = rows()[selected];
    const link = row && (row.querySelector("a.open-event") || row.querySelector("a"));
    if (link) window.location.assign(link.href);
  }

  rows().forEach((row, index) => row.addEventListener("click", () => select(index)));
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      j: () => select(selected + 1), ArrowDown: () => select(selected + 1),
      k: () => select(selected - 1), ArrowUp: () => select(selected - 1),
      Enter: open, o: open,
    };
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });
})();
