// The event detail page opened from a list (the event search): j/k and the previous/next links walk that list.
"use strict";
(function () {
  const walk = window.seistriageWalk.current();
  if (!walk) return;
  for (const direction of ["previous", "next"]) {
    const link = document.getElementById(`${direction}-event`);
    if (link && walk[direction]) {
      link.href = walk[direction];
      link.hidden = false;
    }
  }
  window.seistriageWalk.announce(walk);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const url = { j: walk.next, ArrowDown: walk.next, k: walk.previous, ArrowUp: walk.previous }[event.key];
    if (url) {
      event.preventDefault();
      window.location.assign(url);
    }
  });
})();
