// The Lightspeed page's behaviour: live account status, Run now, refreshing the table while
// runs progress. Data from the server is inserted with textContent only (no HTML injection).
"use strict";

(function () {
  const prefix = document.body.dataset.prefix || "";
  const TERMINAL = new Set(["success", "failed"]);
  const POLL_MS = 3000;
  const POLL_LIMIT = 400; // 20 minutes
  let polls = 0;
  let pollTimer = null;

  function returnPath() {
    // Inside Airflow's nav view come back to it; opened alone, come back here.
    try {
      if (window.top !== window && window.top.location.origin === window.location.origin) {
        return window.top.location.pathname + window.top.location.search;
      }
    } catch (e) { /* a cross-origin parent: use our own path */ }
    return window.location.pathname;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function renderStatus(box, account) {
    const status = box.querySelector(".status");
    const detail = box.querySelector(".account-detail");
    status.dataset.state = account.state;
    status.textContent = account.state === "authenticated" ? "Authenticated" :
      account.state === "not_authenticated" ? "Not authenticated" :
      account.state === "login_required" ? "Login required" : "Error";
    detail.replaceChildren();
    detail.appendChild(el("p", account.message));
    if (account.state !== "authenticated") return;
    detail.appendChild(el("p", "Access token valid until " + account.expires_at +
      "; scopes: " + (account.scopes || []).join(" "), "muted"));
    const table = el("table", undefined, "account-shops");
    const head = table.createTHead().insertRow();
    ["Shop ID", "Name", "Time zone", "Location ID", "In the chain config"].forEach(
      (h) => head.appendChild(el("th", h)));
    const body = table.createTBody();
    account.shops.forEach((shop) => {
      const row = body.insertRow();
      [shop.shop_id, shop.name, shop.time_zone, shop.location_id || "—",
       shop.in_config ? "yes" : "no"].forEach((v) => row.insertCell().textContent = String(v));
    });
    detail.appendChild(table);
  }

  async function loadStatus(box) {
    const conn = box.dataset.connId;
    try {
      const response = await fetch(prefix + "/api/status?conn_id=" + encodeURIComponent(conn),
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        renderStatus(box, { state: "error", message: "Your Airflow login expired: reload the page." });
        return;
      }
      const data = await response.json();
      renderStatus(box, data.accounts[0]);
    } catch (e) {
      renderStatus(box, { state: "error", message: "Could not load the status: " + e });
    }
  }

  function showRunMessage(text, ok) {
    const box = document.getElementById("run-message");
    box.hidden = false;
    box.className = "flash " + (ok ? "ok" : "error");
    box.textContent = text;
  }

  async function runNow(button) {
    const row = button.closest("tr");
    const daysBack = parseInt(row.querySelector(".days-back").value || "0", 10);
    button.disabled = true;
    try {
      const response = await fetch(
        prefix + "/api/shops/" + encodeURIComponent(button.dataset.locationId) + "/run",
        {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ days_back: isNaN(daysBack) ? 0 : daysBack }),
        });
      const data = await response.json();
      if (!response.ok) {
        const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
        showRunMessage("Run now failed: " + detail, false);
      } else {
        showRunMessage(data.message, true);
        startPolling();
      }
    } catch (e) {
      showRunMessage("Run now failed: " + e, false);
    } finally {
      button.disabled = false;
    }
  }

  async function refreshTable() {
    const response = await fetch(prefix + "/fragment/shops", { credentials: "same-origin" });
    if (!response.ok) return false;
    const tbody = document.querySelector("#shops tbody");
    // Keep what the user typed into "Days back" across the refresh.
    const typed = {};
    tbody.querySelectorAll("tr[data-location-id]").forEach((tr) => {
      typed[tr.dataset.locationId] = tr.querySelector(".days-back").value;
    });
    tbody.innerHTML = await response.text(); // server-rendered, autoescaped by Jinja2
    tbody.querySelectorAll("tr[data-location-id]").forEach((tr) => {
      if (typed[tr.dataset.locationId] !== undefined) {
        tr.querySelector(".days-back").value = typed[tr.dataset.locationId];
      }
    });
    return Array.from(tbody.querySelectorAll("tr[data-state]"))
      .some((tr) => tr.dataset.state && !TERMINAL.has(tr.dataset.state));
  }

  function startPolling() {
    polls = 0;
    if (pollTimer) clearTimeout(pollTimer);
    const tick = async () => {
      polls += 1;
      let active = true;
      try { active = await refreshTable(); } catch (e) { active = true; }
      if (active && polls < POLL_LIMIT) pollTimer = setTimeout(tick, POLL_MS);
    };
    pollTimer = setTimeout(tick, 500);
  }

  function navigateTop(url) {
    // Airflow shows this page in a sandboxed iframe that may not navigate the top window
    // itself; a link clicked in the (same-origin) top document may. Lightspeed's login page
    // must not be framed, and DAG links belong to the whole Airflow UI.
    try {
      if (window.top !== window && window.top.location.origin === window.location.origin) {
        const link = window.top.document.createElement("a");
        link.href = new URL(url, window.location.href).toString();
        window.top.document.body.appendChild(link);
        link.click();
        link.remove();
        return;
      }
    } catch (e) { /* not reachable: navigate this frame instead */ }
    window.location.href = url;
  }

  document.querySelectorAll("a.login").forEach((link) => {
    const url = new URL(link.href, window.location.href);
    url.searchParams.set("return_to", returnPath());
    link.href = url.toString();
  });
  document.querySelectorAll(".account").forEach(loadStatus);
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.run-now");
    if (button) {
      runNow(button);
      return;
    }
    const link = event.target.closest("a[data-top]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      navigateTop(link.href);
    }
  });
  if (document.querySelector("#shops tr[data-state='queued'], #shops tr[data-state='running']")) {
    startPolling();
  }
})();
