// Review queue shortcuts: "a" approves, "r" rejects the comment shown (the page then loads the next one).
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
  var button = null;
  if (event.key === "a") button = document.getElementById("approve");
  if (event.key === "r") button = document.getElementById("reject");
  if (button) { event.preventDefault(); button.click(); }
});
