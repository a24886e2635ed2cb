// The reset page: moves the code from the URL fragment (which browsers never
// send to a server) into the form, takes it out of the address bar, and
// tells the person at once when the two passwords differ.
(function () {
  "use strict";
  var form = document.getElementById("reset-form");
  if (!form) {
    return;
  }
  var token = form.elements.namedItem("token");
  var found = /(?:^|&)token=([^&]+)/.exec(window.location.hash.slice(1));
  if (found && !token.value) {
    token.value = decodeURIComponent(found[1]);
  }
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (token.value) {
    document.getElementById("token-field").hidden = true;
  }
  var password = form.elements.namedItem("password");
  var repeat = form.elements.namedItem("password_confirmation");
  function compare() {
    var differs = repeat.value !== "" && repeat.value !== password.value;
    repeat.setCustomValidity(differs ? repeat.getAttribute("data-mismatch") : "");
  }
  password.addEventListener("input", compare);
  repeat.addEventListener("input", compare);
})();
