// The letter to all parents, kept up to date while its letters are still going out: the block
// (templates/pages/_letter_progress.html) names where its figures are read (data-letter-
// progress); this asks every 2 seconds and shows the server's own words, until nothing is
// left to send. Without JavaScript the block's Refresh link does the same by hand.
const EVERY_MS = 2000;
// A screen reader hears the count at most this often (and at once when the state changes):
// read out every 2 seconds it would drown everything else on the page.
const ANNOUNCE_EVERY_MS = 10000;
// Letters still going after this long need a person (the case page says why), not polling.
const GIVE_UP_MS = 30 * 60 * 1000;

for (const block of document.querySelectorAll("[data-letter-progress][data-poll]")) {
  follow(block);
}

function follow(block) {
  const url = block.dataset.letterProgress;
  const refresh = block.querySelector("[data-refresh]");
  const status = block.querySelector("[data-status]");
  const started = Date.now();
  let announced = { state: block.dataset.state || "", at: started };

  const announce = (report) => {
    const now = Date.now();
    const changed = report.state !== announced.state;
    if (changed || !report.going || now - announced.at >= ANNOUNCE_EVERY_MS) {
      status.textContent = report.headline;
      announced = { state: report.state, at: now };
    }
  };

  const show = (report) => {
    if (report.state === "none") {
      return; // nothing to say: whatever the page shows already stands
    }
    for (const older of document.querySelectorAll("[data-letter-fallback]")) {
      older.hidden = true;
    }
    block.hidden = false;
    block.dataset.state = report.state;
    block.querySelector("[data-headline]").textContent = report.headline;
    announce(report);
    const box = block.querySelector("[data-bar-box]");
    const bar = box.querySelector("progress");
    box.hidden = !(report.total || report.state === "preparing");
    if (report.state === "preparing") {
      bar.removeAttribute("value"); // no figures yet: a bar that only says "working"
    } else {
      bar.max = Math.max(report.total, 1);
      bar.value = report.sent;
    }
    const items = report.details.map((said) => {
      const item = document.createElement("li");
      item.textContent = said;
      return item;
    });
    const list = block.querySelector("[data-details]");
    list.replaceChildren(...items);
    list.hidden = !items.length;
  };

  const stop = (offerRefresh) => {
    if (refresh) {
      refresh.hidden = !offerRefresh;
    }
  };

  const later = (ms) => setTimeout(poll, ms);

  async function poll() {
    if (Date.now() - started > GIVE_UP_MS) {
      stop(true);
      return;
    }
    if (document.hidden) {
      later(EVERY_MS); // nobody is looking: ask again when they might be
      return;
    }
    let response;
    try {
      response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      later(EVERY_MS * 2); // the connection dropped for a moment: try again
      return;
    }
    if (response.status >= 500) {
      later(EVERY_MS * 2);
      return;
    }
    if (!response.ok) {
      stop(true); // signed out, or no longer allowed to see it: the link says what to do
      return;
    }
    let report;
    try {
      report = await response.json();
    } catch {
      stop(true);
      return;
    }
    show(report);
    stop(false); // following by itself now: the Refresh link is not needed
    if (report.going) {
      later(EVERY_MS);
    }
  }

  poll();
}
