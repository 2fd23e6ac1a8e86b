// Asks before a form with data-confirm is sent (discarding a draft, for instance). Without
// JavaScript the form is sent as it is: the server still refuses what must not be done.
// The button that sent the form may ask its own question (data-confirm on the button).
// Without JavaScript, the form's <noscript> checkbox asks it instead.
document.addEventListener("submit", function (event) {
  const form = event.target;
  const submitter = event.submitter;
  const question = (submitter && submitter.getAttribute("data-confirm")) ||
    (form.getAttribute && form.getAttribute("data-confirm"));
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The page's few behaviours, bound here rather than in inline handlers: the
// Content-Security-Policy runs no inline script.
document.addEventListener("click", function (event) {
  const target = event.target;
  if (!(target instanceof Element)) {
    return;
  }
  if (target.closest("[data-print]")) {
    window.print();
    return;
  }
  const remove = target.closest("[data-remove-line]");
  if (remove) {
    const form = remove.closest("form");
    remove.closest("tr").remove();
    if (window.htmx && form) {
      window.htmx.trigger(form, "lines-changed");
    }
    const add = document.getElementById("add-line");
    if (add) {
      add.focus();
    }
  }
});

document.addEventListener("change", function (event) {
  const target = event.target;
  if (target instanceof Element && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});
