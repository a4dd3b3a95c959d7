// The decision panel, enhanced: the chosen decision's consequence stands out, and the comment is marked required
// for the decisions that need one, so the browser asks for it before sending. The page works the same without this script.
(function () {
  "use strict";
  var form = document.querySelector("form.decide");
  if (!form) { return; }
  var comment = form.querySelector("textarea[name=comment]");
  var always = form.getAttribute("data-comment-always") === "yes";
  function update() {
    var chosen = form.querySelector("input[name=verdict]:checked");
    form.querySelectorAll(".verdict").forEach(function (box) {
      box.classList.toggle("chosen", !!chosen && box.contains(chosen));
    });
    if (comment) {
      comment.required = always || (!!chosen && chosen.value !== "approve");
    }
  }
  form.addEventListener("change", update);
  update();
}());
