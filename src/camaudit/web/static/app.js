// camaudit platform: small progressive enhancements; every page works without them.
// live progress of a scan
"use strict";
(function () {
  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var status = box.querySelector("[data-progress-status]");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (p) {
        bar.max = Math.max(p.hosts_total, 1);
        bar.value = p.hosts_done;
        text.textContent = p.hosts_done + " / " + p.hosts_total;
        status.textContent = p.status_label;
        box.setAttribute("data-status", p.status);
        if (p.done) { window.location.reload(); } else { window.setTimeout(tick, 1000); }
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  var st = box.getAttribute("data-status");
  if (st === "queued" || st === "running") { window.setTimeout(tick, 500); }
}());

// an evidence file over the upload limit is refused before it is sent (the server refuses it too)
(function () {
  var inputs = document.querySelectorAll("input[type=file][data-max-bytes]");
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("change", function () {
      var max = parseInt(input.getAttribute("data-max-bytes"), 10);
      var f = input.files && input.files[0];
      input.setCustomValidity(f && f.size > max ? input.getAttribute("data-too-large") || "too large" : "");
      input.reportValidity();
    });
  });
}());
