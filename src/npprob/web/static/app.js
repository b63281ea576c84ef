// What-if: with "update as findings change" ticked, a changed field resubmits the form,
// and the page comes back with the focus on that field (the server marks it autofocus).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("patient");
  var live = document.getElementById("live");
  var focus = document.getElementById("focus");
  if (!form || !live || !focus) { return; }
  form.addEventListener("change", function (event) {
    var target = event.target;
    if (!live.checked || !target.name || target.name === "record_json" ||
        target.name === "record_file" || target === live) { return; }
    focus.value = target.name;
    form.requestSubmit(document.getElementById("compute"));
  });
});
