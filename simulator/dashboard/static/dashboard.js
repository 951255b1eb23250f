// mailfrom-sim dashboard: live updates from /_sim/events, and buttons that call the
// /_sim JSON endpoints. Plain JavaScript, no build step, nothing from the internet.
(function () {
  "use strict";
  const body = document.body;
  const account = body.dataset.account;
  const region = body.dataset.region;
  let selected = body.dataset.identity || "";

  // Which fragments of the page an event can change.
  const AFFECTS = {
    transition: ["identities", "detail"], check: ["identities", "detail"], identity: ["identities", "detail"],
    sent: ["outbox"], rejected: ["outbox"], relay: ["outbox"], outbox: ["outbox"], dns: ["zone", "detail"],
    clock: ["clock", "identities", "detail"], reset: ["clock", "identities", "detail", "outbox", "zone"],
  };

  function scopeParams() {
    return new URLSearchParams({ account: account, region: region });
  }

  let toastTimer = null;
  function toast(message, isError) {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.className = "toast show" + (isError ? " error" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.className = "toast"; }, 3500);
  }

  // The session ended (the simulator restarted with another --control-token): the page
  // asks for the token again.
  function signInAgain() {
    location.reload();
    return null;
  }

  // One call to the control plane; the answer's data, or null after showing the error.
  async function api(method, path, payload, scoped) {
    const url = scoped ? path + (path.indexOf("?") < 0 ? "?" : "&") + scopeParams() : path;
    const options = { method: method, headers: { "Content-Type": "application/json" } };
    if (payload !== undefined) options.body = JSON.stringify(payload);
    try {
      const response = await fetch(url, options);
      if (response.status === 401) return signInAgain();
      const answer = await response.json();
      if (!answer.success) {
        toast(answer.error.code + ": " + answer.error.message, true);
        return null;
      }
      return answer.data;
    } catch (error) {
      toast("Request failed: " + error, true);
      return null;
    }
  }

  // --- fragments: re-rendered by the server, swapped in here ---------------------
  const wanted = new Set();
  let timer = null;
  let inFlight = false;
  function refresh(parts) {
    parts.forEach(function (p) { wanted.add(p); });
    if (!timer && !inFlight) timer = setTimeout(flush, 60);
  }
  async function flush() {
    timer = null;
    if (!wanted.size) return;
    const parts = Array.from(wanted);
    wanted.clear();
    inFlight = true;
    try {
      const params = scopeParams();
      params.set("parts", parts.join(","));
      if (selected) params.set("identity", selected);
      const response = await fetch("/_sim/dashboard/fragments?" + params);
      if (response.status === 401) return signInAgain();
      const answer = await response.json();
      if (answer.success) {
        Object.keys(answer.data).forEach(function (name) {
          const el = document.querySelector('[data-fragment="' + name + '"]');
          if (el) el.innerHTML = answer.data[name];
        });
        body.dataset.refreshes = String(Number(body.dataset.refreshes) + 1);
      }
    } catch (error) {
      toast("Could not refresh: " + error, true);
    } finally {
      inFlight = false;
      if (wanted.size) timer = setTimeout(flush, 0);
    }
  }

  // --- the event stream -----------------------------------------------------------
  function describe(kind, data) {
    switch (kind) {
      case "transition": return data.identity + ": " + (data.from || "(none)") + " → " + (data.to || "(none)") + " on " + data.event;
      case "check": return "checked " + data.domain + ": " + ((data.lookup || {}).outcome || "deadline") + " (" + data.to + ")";
      case "sent": return data.from + " → " + data.destinations.join(", ") + " via " + data.envelope_from + " (" + data.mail_from_decision + ")";
      case "rejected": return "rejected " + data.from + ": " + (data.reason || "");
      case "relay": return data.message_id + ": " + data.relay;
      case "identity": return data.identity + " " + data.action + (data.verification ? " " + data.verification : "");
      case "dns": return data.action + " " + (data.record ? data.record.name + " " + data.record.type + " " + data.record.value : (data.name || data.id) + (data.action === "fault" ? " → " + (data.fault || "none") : ""));
      case "clock": return "advanced " + data.advanced + " s → " + data.now;
      case "reset": return "everything emptied";
      default: return "";
    }
  }
  function logEvent(id, kind, data) {
    const list = document.getElementById("event-log");
    const placeholder = list.querySelector(".muted");
    if (placeholder) placeholder.remove();
    const item = document.createElement("li");
    [["id", "#" + id], ["kind kind-" + kind, kind], ["text", describe(kind, data)]].forEach(function (cell) {
      const span = document.createElement("span");
      span.className = cell[0];
      span.textContent = cell[1];
      item.appendChild(span);
    });
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 100) list.removeChild(list.lastChild);
  }
  function inScope(data) {
    return data.account === undefined || (data.account === account && data.region === region);
  }

  // A browser allows only six connections per host: a page left (or kept in the
  // back/forward cache) must give its stream back, and take a new one on return.
  const live = document.getElementById("live");
  let source = null;
  // A browser retries a dropped stream itself, but gives up for good on an answer that is
  // not 200 (a 503 while every stream slot is taken): then the page tries again, later and later.
  let retryDelay = 1000;
  let openedBefore = false;
  let retryTimer = null;
  function connect() {
    retryTimer = null;
    source = new EventSource("/_sim/events?last_event_id=" + encodeURIComponent(body.dataset.lastEventId || "0"));
    source.onopen = function () {
      retryDelay = 1000;
      live.textContent = "live"; live.className = "live on";
      if (openedBefore) refresh(["clock", "identities", "detail", "outbox", "zone"]);  // what changed while away
      openedBefore = true;
    };
    source.onerror = function () {
      live.textContent = "reconnecting…"; live.className = "live";
      if (source && source.readyState === EventSource.CLOSED && !retryTimer) {
        source.close();
        retryTimer = setTimeout(function () { if (source && source.readyState === EventSource.CLOSED) connect(); },
                                retryDelay);
        retryDelay = Math.min(retryDelay * 2, 15000);
      }
    };
    Object.keys(AFFECTS).forEach(function (kind) {
      source.addEventListener(kind, function (message) {
        const data = JSON.parse(message.data);
        logEvent(message.lastEventId, kind, data);
        body.dataset.lastEventId = message.lastEventId;
        if (inScope(data)) refresh(AFFECTS[kind]);
      });
    });
  }
  window.addEventListener("pagehide", function () {
    if (source) source.close();
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    source = null;
    live.textContent = "paused"; live.className = "live";
  });
  window.addEventListener("pageshow", function () { if (!source) connect(); });
  connect();

  // --- buttons --------------------------------------------------------------------
  function selectIdentity(name) {
    selected = name;
    const params = scopeParams();
    params.set("identity", name);
    history.pushState({ identity: name }, "", "?" + params);
    refresh(["identities", "detail"]);
  }
  window.addEventListener("popstate", function () {
    selected = new URLSearchParams(location.search).get("identity") || "";
    refresh(["identities", "detail"]);
  });

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {  // no clipboard permission (e.g. plain http on another host): select instead
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    toast("Copied: " + text);
  }

  document.addEventListener("click", async function (event) {
    const target = event.target.closest("button, a.select-identity, tr[data-identity]");
    if (!target) return;
    const d = target.dataset;
    if (target.matches("a.select-identity") || target.matches("tr[data-identity]")) {
      event.preventDefault();
      selectIdentity(target.closest("tr").dataset.identity);
    } else if (d.advance !== undefined) {
      const result = await api("POST", "/_sim/clock/advance", { seconds: Number(d.advance) });
      if (result) toast("Clock advanced: " + result.checked + " checked, " + result.transitions + " transitions");
      refresh(["clock", "identities", "detail"]);
    } else if (d.runChecks !== undefined) {
      const result = await api("POST", "/_sim/checks/run", d.runChecks ? { identity: d.runChecks } : {}, true);
      if (result) toast("Checked " + result.checks.length + " configuration(s)");
      refresh(["identities", "detail"]);
    } else if (d.publish !== undefined) {
      const result = await api("POST", "/_sim/dns/records", { name: d.name, type: d.type, value: d.value });
      if (result) toast("Published " + d.name + " " + d.type);
      refresh(["zone", "detail"]);
    } else if (d.removeRecord !== undefined) {
      if (await api("DELETE", "/_sim/dns/records/" + encodeURIComponent(d.removeRecord))) toast("Record removed");
      refresh(["zone", "detail"]);
    } else if (d.clearFault !== undefined) {
      await api("DELETE", "/_sim/dns/faults/" + encodeURIComponent(d.clearFault));
      refresh(["zone", "detail"]);
    } else if (d.copy !== undefined) {
      copy(d.copy);
    } else if (d.clearOutbox !== undefined) {
      await api("DELETE", "/_sim/outbox", undefined, true);
      refresh(["outbox"]);
    }
  });

  document.addEventListener("change", async function (event) {
    const target = event.target;
    if (target.dataset.fault !== undefined) {
      const result = await api("PUT", "/_sim/dns/faults/" + encodeURIComponent(target.dataset.fault), { fault: target.value });
      if (result) toast("DNS for " + target.dataset.fault + ": " + (result.fault || "answers normally"));
      refresh(["zone", "detail"]);
    } else if (target.dataset.verification !== undefined) {
      await api("PUT", "/_sim/identities/" + encodeURIComponent(target.dataset.verification) + "/verification",
                { status: target.value }, true);
      refresh(["identities", "detail"]);
    }
  });

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (form.dataset.addRecord === undefined) return;
    event.preventDefault();
    const fields = new FormData(form);
    const result = await api("POST", "/_sim/dns/records",
                             { name: fields.get("name"), type: fields.get("type"), value: fields.get("value") });
    if (result) toast("Added " + fields.get("name") + " " + fields.get("type"));
    refresh(["zone", "detail"]);
  });
})();
