// The ceremony screen follows the public log: when the log grows, the page is fetched
// again and its content replaced; the countdown ticks every second.
"use strict";
(() => {
  const POLL_MS = 2000;
  let size = null;

  function tick() {
    for (const el of document.querySelectorAll("[data-countdown-to]")) {
      let target = Date.parse(el.dataset.countdownTo), prefix = "";
      // Once a dice ceremony has begun, the time left to confirm the digits.
      if (target <= Date.now() && el.dataset.until) {
        target = Date.parse(el.dataset.until);
        prefix = "距点数确认截止 ";
      }
      const left = Math.round((target - Date.now()) / 1000);
      if (Number.isNaN(left)) continue;
      if (left <= 0) { el.textContent = "时间已到，等待记入日志"; continue; }
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = prefix + (h ? h + " 小时 " : "") + (h || m ? m + " 分 " : "") + s + " 秒";
    }
  }

  async function poll() {
    const main = document.getElementById("ceremony");
    try {
      const checkpoint = await (await fetch(main.dataset.checkpoint, { cache: "no-store" })).text();
      const now = checkpoint.split("\n")[1];
      if (size !== null && now !== size) {
        const html = await (await fetch(window.location.pathname, { cache: "no-store" })).text();
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("ceremony");
        if (fresh) main.replaceWith(fresh);
        tick();
      }
      size = now;
    } catch (error) {
      // a dropped connection in the room: try again at the next poll
    }
  }

  tick();
  setInterval(tick, 1000);
  poll();
  setInterval(poll, POLL_MS);
})();
