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

// The invoice form: the buyer a SIRET lookup found or made on the page is the one chosen, once
// the buyer list holds it (the lookup's answer reloads the list).
let chosenBuyer = null;
let seenMarker = null;
document.addEventListener("htmx:afterSettle", function () {
  const marker = document.querySelector("#buyer-lookup [data-chosen-buyer]");
  if (marker && marker !== seenMarker) {
    seenMarker = marker;
    chosenBuyer = marker.getAttribute("data-chosen-buyer");
  }
  const select = document.getElementById("id_buyer");
  if (!select) {
    return;
  }
  bindBuyerFilter();
  if (chosenBuyer && select.querySelector(`option[value="${chosenBuyer}"]`)) {
    const wanted = chosenBuyer;
    chosenBuyer = null;
    if (select.value !== wanted) {
      select.value = wanted;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
});

// A long list of buyers: a box above the list keeps only those whose name or SIRET holds what
// is typed (the list itself stays the form's field, so that nothing else changes). The list is
// drawn again when the buyer or the service changes: what was typed is kept and applied again.
let buyerFilterText = "";
function bindBuyerFilter() {
  const select = document.getElementById("id_buyer");
  const box = document.getElementById("buyer-filter");
  if (!select || !box || box.dataset.bound) {
    return;
  }
  box.dataset.bound = "1";
  const all = Array.from(select.options).map((option) => option.cloneNode(true));
  const apply = function () {
    buyerFilterText = box.value;
    const words = box.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const current = select.value;
    const keep = (option) => {
      const text = option.textContent.toLowerCase();
      const compact = text.replace(/\s+/g, "");
      return !option.value || option.value === current ||
        words.every((word) => text.includes(word) || compact.includes(word));
    };
    select.replaceChildren(...all.filter(keep).map((option) => option.cloneNode(true)));
    select.value = current;
  };
  const quiet = (event) => event.stopPropagation();  // not a field of the invoice
  box.addEventListener("input", function (event) {
    quiet(event);
    apply();
  });
  box.addEventListener("change", quiet);
  if (buyerFilterText) {
    box.value = buyerFilterText;
    apply();
  }
}
document.addEventListener("DOMContentLoaded", bindBuyerFilter);

// The fields an invoice to a company asks (its own fieldset) show once a company is chosen: the
// buyer block, drawn again at each change of buyer, says which channel the invoice takes.
function applyChannel() {
  const routing = document.getElementById("routing");
  if (!routing) {
    return;
  }
  document.querySelectorAll("[data-for-channel]").forEach(function (element) {
    element.hidden = element.dataset.forChannel !== routing.dataset.channel;
  });
  // Sending asks the question of the channel the invoice takes (Chorus Pro, or the platform).
  const send = document.getElementById("send-button");
  if (send && routing.dataset.sendConfirm) {
    send.dataset.confirm = routing.dataset.sendConfirm;
  }
}
document.addEventListener("DOMContentLoaded", applyChannel);
document.addEventListener("htmx:afterSwap", applyChannel);
