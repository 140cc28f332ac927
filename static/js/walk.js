// Walking a list from the events it opens. A list page (a table marked data-walk with an id: the most informative
// and likely mislabelled lists, label disagreements, the event search) remembers its events' pages in its own
// order for this browser tab, and each of its links names the list (?walk=<table id>); the event's page then
// takes previous and next (k/j) from that list instead of the queue. Without the name, or for a page the list does
// not hold, the event's page keeps the queue's order.
"use strict";
window.seistriageWalk = (function () {
  const key = (name) => `seistriage.walk.${name}`;

  function remember(table) {
    const links = Array.from(table.querySelectorAll("tbody a.open-event"));
    if (!table.id || !links.length) return;
    const paths = links.map((link) => new URL(link.href, window.location.href).pathname);
    const title = (document.querySelector("h1") || {}).textContent || table.id;
    try {
      window.sessionStorage.setItem(key(table.id), JSON.stringify({ list: window.location.pathname + window.location.search, title, paths }));
    } catch (error) { /* storage full or disabled: the event pages fall back to the queue's order */ }
  }

  function current() {
    const name = new URLSearchParams(window.location.search).get("walk");
    if (!name) return null;
    let stored = null;
    try { stored = JSON.parse(window.sessionStorage.getItem(key(name)) || "null"); } catch (error) { return null; }
    if (!stored || !Array.isArray(stored.paths)) return null;
    const index = stored.paths.indexOf(window.location.pathname);
    if (index < 0) return null;
    const at = (i) => (i >= 0 && i < stored.paths.length ? `${stored.paths[i]}?walk=${encodeURIComponent(name)}` : null);
    return {
      name, list: stored.list, title: stored.title, position: index + 1, length: stored.paths.length,
      next: at(index + 1), previous: at(index - 1),
    };
  }

  // "3 of 50 in <the list>", the list's name a link back to it, in the page's #walk-status.
  function announce(walk) {
    const status = document.getElementById("walk-status");
    if (!status) return;
    status.textContent = `${walk.position} of ${walk.length} in `;
    const back = document.createElement("a");
    back.href = walk.list;
    back.textContent = walk.title;
    status.append(back);
    status.hidden = false;
  }

  return { remember, current, announce };
})();
