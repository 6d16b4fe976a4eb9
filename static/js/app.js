// Keeps window countdowns current between server refreshes. No inline scripts (CSP).
(function () {
  function format(seconds) {
    if (seconds <= 0) return "closed";
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return h + " h " + String(m).padStart(2, "0") + " min";
    if (m) return m + " min " + String(s).padStart(2, "0") + " s";
    return s + " s";
  }
  function tick() {
    document.querySelectorAll("[data-closes-at]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.dataset.closesAt) - Date.now()) / 1000);
      el.textContent = format(left);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();

// Tells the server the browser's time zone, used for times until the profile names one.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names (Europe/Berlin, Etc/GMT+5) are cookie-safe as they are; anything else is ignored.
    if (/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: times stay in UTC, as the footer says */ }
})();

// Copy buttons: <button data-copy-target="element-id">; the result is announced beside it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) return;
  var source = document.getElementById(button.dataset.copyTarget);
  var result = button.parentElement.querySelector(".copy-result");
  function say(text) { if (result) result.textContent = text; }
  if (!source || !navigator.clipboard) { say("Select the key and copy it by hand."); return; }
  navigator.clipboard.writeText(source.textContent.trim()).then(
    function () { say("Copied."); },
    function () { say("Copying was refused: select the key and copy it by hand."); });
});

// A question page ("send again?") brought back by Back from the browser's memory asks the server
// again: it may have been answered meanwhile, and the server then goes on to the ticket.
window.addEventListener("pageshow", function (event) {
  if (event.persisted && document.querySelector("[data-ask-server-on-back]")) window.location.reload();
});
