// Dashboard exports: download CSV/XLSX with a progress bar (the file is read as it arrives).
(function () {
  "use strict";
  var box = document.getElementById("export-progress");
  if (!box) return;
  var bar = document.getElementById("export-bar");
  var text = document.getElementById("export-text");

  function filename(response, fallback) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="?([^";]+)"?/.exec(header);
    return match ? match[1] : fallback;
  }

  async function download(link) {
    box.hidden = false;
    bar.removeAttribute("value");
    text.textContent = box.dataset.loading;
    try {
      var response = await fetch(link.href, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      var total = parseInt(response.headers.get("Content-Length") || "0", 10);
      var reader = response.body.getReader();
      var chunks = [];
      var received = 0;
      for (;;) {
        var step = await reader.read();
        if (step.done) break;
        chunks.push(step.value);
        received += step.value.length;
        if (total) { bar.value = Math.round(received * 100 / total); }
        text.textContent = box.dataset.loading + " " + Math.round(received / 1024) + " KB";
      }
      bar.value = 100;
      var blob = new Blob(chunks, { type: response.headers.get("Content-Type") || "application/octet-stream" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = filename(response, link.href.indexOf(".xlsx") > 0 ? "chi-so.xlsx" : "chi-so.csv");
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      text.textContent = box.dataset.done + " (" + Math.max(1, Math.round(received / 1024)) + " KB)";
    } catch (e) {
      text.textContent = box.dataset.failed;
    }
  }

  document.querySelectorAll("a[data-export]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!window.fetch || !window.ReadableStream) return;
      event.preventDefault();
      download(link);
    });
  });
})();
