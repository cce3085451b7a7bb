// Progress for an import (parents and carers, or people): the upload as it goes, then the
// server's checking and saving, line by line. The form names where its progress is read
// (data-progress, to which the import's id is added) and what its saving stage is called
// (data-saving). Without JavaScript the form still posts normally and simply waits.
(function () {
  "use strict";
  var form = document.querySelector("form[data-progress]");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.fetch) {
    return;
  }
  var box = document.getElementById("import-progress");
  var stageLabel = document.getElementById("import-stage");
  var bar = document.getElementById("import-bar");
  var count = document.getElementById("import-count");
  var button = form.querySelector("button[type=submit]");
  var STAGES = {
    checking: "Checking every line of the file",
    saving: form.getAttribute("data-saving") || "Saving",
    done: "Finishing",
    failed: "Finishing"
  };

  function show(label, done, total, unit) {
    stageLabel.textContent = label;
    if (total > 0) {
      bar.max = total;
      bar.value = done;
      count.textContent = done.toLocaleString("en-GB") + " of " +
        total.toLocaleString("en-GB") + " " + unit;
    } else {
      bar.removeAttribute("value"); // no figures yet: an indeterminate bar
      count.textContent = "";
    }
  }

  function poll(url, stop) {
    if (stop.done) {
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (report) {
        if (report && !stop.done) {
          show(STAGES[report.stage] || STAGES.checking, report.done, report.total, "lines");
        }
      })
      .catch(function () { /* the bar just stays where it is */ })
      .then(function () { setTimeout(function () { poll(url, stop); }, 300); });
  }

  function showAnswer(request) {
    // The server answers with the whole page (the result, or the problems found):
    // show it exactly as a plain form post would have.
    document.open();
    document.write(request.responseText);
    document.close();
  }

  form.addEventListener("submit", function (event) {
    var file = form.elements.file;
    if (!file.files || !file.files.length) {
      return; // let the server say a file is needed
    }
    event.preventDefault();
    var data = new FormData(form);
    var stop = { done: false };
    var progressUrl = form.getAttribute("data-progress") +
      encodeURIComponent(form.elements.import_id.value);
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        show("Uploading the file", e.loaded, e.total, "bytes");
      }
    });
    request.upload.addEventListener("load", function () {
      show(STAGES.checking, 0, 0, "lines");
    });
    request.addEventListener("load", function () {
      stop.done = true;
      showAnswer(request);
    });
    request.addEventListener("error", function () {
      stop.done = true;
      button.disabled = false;
      bar.value = 0;
      stageLabel.textContent = "The file could not be sent";
      count.setAttribute("role", "alert");
      count.textContent = "Nothing was imported. Check your connection and try again.";
    });
    button.disabled = true;
    box.hidden = false;
    show("Uploading the file", 0, 0, "bytes");
    request.send(data);
    // The server knows nothing of this import until the upload is in; until then it
    // answers 404 and the bar shows the upload.
    poll(progressUrl, stop);
  });
})();
