// Asks before a form with data-confirm is sent (discarding a draft, for instance). Without
// JavaScript the form is sent as it is: the server still refuses what must not be done.
document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
