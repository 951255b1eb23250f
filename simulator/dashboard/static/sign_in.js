// mailfrom-sim dashboard sign-in: post the --control-token once; the answer sets the
// session cookie, and the dashboard loads in place of this form.
(function () {
  "use strict";
  const form = document.getElementById("sign-in");
  const error = document.getElementById("sign-in-error");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.textContent = "";
    try {
      const response = await fetch("/_sim/dashboard/session", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: document.getElementById("token").value }),
      });
      const answer = await response.json();
      if (answer.success) {
        location.reload();
      } else {
        error.textContent = answer.error.message;
      }
    } catch (failure) {
      error.textContent = "Request failed: " + failure;
    }
  });
})();
