// Posts `form` to its action as a form body, in the page's language, and
// hands on the answer as {status, body}; no answer at all is status 0.
function postForm(form) {
  "use strict";
  return fetch(form.action, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "accept-language": document.documentElement.lang,
    },
    body: new URLSearchParams(new FormData(form)),
  })
    .then(function (response) {
      return response
        .json()
        .catch(function () {
          return null;
        })
        .then(function (body) {
          return { status: response.status, body: body };
        });
    })
    .catch(function () {
      return { status: 0, body: null };
    });
}

// Shows a refused answer in `failure`: `message` when given, else the
// problem's own detail, else the element's data-failed text; the problem's
// code goes to data-code.
function showFailure(failure, body, message) {
  "use strict";
  failure.textContent = message || (body && body.detail) || failure.getAttribute("data-failed");
  failure.setAttribute("data-code", (body && body.code) || "");
  failure.hidden = false;
}

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

// The email sign-in page: fills the form from the link's fragment (the code
// never reaches a server log and a GET spends nothing), takes the fragment
// out of the address bar, and posts the form to the API itself. The token
// pair it gets back stays in this tab's sessionStorage
// ("latchkey.token_pair"), for an app served from the same origin; other
// apps set EMAIL_SIGN_IN_URL to a page of their own.
(function () {
  "use strict";
  var form = document.getElementById("email-sign-in-form");
  if (!form) {
    return;
  }
  var fragment = new URLSearchParams(window.location.hash.slice(1));
  ["email", "code"].forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (fragment.get(name) && !field.value) {
      field.value = fragment.get(name);
    }
  });
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var failure = document.getElementById("failure");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    failure.hidden = true;
    postForm(form).then(function (answer) {
      if (answer.status === 200) {
        window.sessionStorage.setItem("latchkey.token_pair", JSON.stringify(answer.body));
        form.hidden = true;
        document.getElementById("result").hidden = false;
        return;
      }
      var mfa = answer.body && answer.body.code === "mfa_required";
      showFailure(failure, answer.body, mfa ? failure.getAttribute("data-mfa") : null);
    });
  });
})();

// The passkeys page: signs in with a passkey (a discoverable ceremony: the
// browser offers the passkeys it holds for this site) or with a password,
// and, signed in, lists the account's passkeys and adds one. The ceremonies
// run through the API (PublicKeyCredential's JSON forms both ways); the
// token pair stays in this tab's sessionStorage ("latchkey.token_pair"), as
// on the email sign-in page.
(function () {
  "use strict";
  var root = document.getElementById("passkeys-page");
  if (!root) {
    return;
  }
  var storageKey = "latchkey.token_pair";
  var failure = document.getElementById("failure");
  var signedOut = document.getElementById("signed-out");
  var signedIn = document.getElementById("signed-in");
  var result = document.getElementById("result");
  var list = document.getElementById("passkey-list");
  var added = document.getElementById("added");

  function pair() {
    try {
      return JSON.parse(window.sessionStorage.getItem(storageKey));
    } catch (error) {
      return null;
    }
  }

  function api(method, route, body, token) {
    var headers = { "accept-language": document.documentElement.lang };
    var init = { method: method, headers: headers };
    if (token) {
      headers.authorization = "Bearer " + token;
    }
    if (body instanceof URLSearchParams) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      init.body = body;
    } else if (body) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("../" + route, init).then(function (response) {
      return response
        .json()
        .catch(function () {
          return null;
        })
        .then(function (answer) {
          return { status: response.status, body: answer };
        });
    });
  }

  function fail(answer) {
    var body = answer && answer.body;
    failure.textContent =
      body && body.code === "mfa_required"
        ? failure.getAttribute("data-mfa")
        : (body && body.detail) || failure.getAttribute("data-failed");
    failure.setAttribute("data-code", (body && body.code) || "");
    failure.hidden = false;
  }

  function supported() {
    var ok =
      window.PublicKeyCredential &&
      PublicKeyCredential.parseCreationOptionsFromJSON &&
      PublicKeyCredential.parseRequestOptionsFromJSON;
    if (!ok) {
      failure.textContent = failure.getAttribute("data-unsupported");
      failure.hidden = false;
    }
    return ok;
  }

  function showPasskeys() {
    var current = pair();
    return api("GET", "v1/users/me/passkeys", null, current.access_token).then(function (answer) {
      if (answer.status !== 200) {
        return fail(answer);
      }
      list.textContent = "";
      answer.body.passkeys.forEach(function (passkey) {
        var item = document.createElement("li");
        item.textContent = passkey.name;
        item.setAttribute("data-id", passkey.id);
        list.appendChild(item);
      });
      document.getElementById("passkeys-empty").hidden = answer.body.passkeys.length > 0;
    });
  }

  function show(how) {
    var signed = pair() !== null;
    signedOut.hidden = signed;
    signedIn.hidden = !signed;
    if (signed) {
      result.setAttribute("data-state", how || "signed-in");
      showPasskeys();
    }
  }

  function keep(answer, how) {
    if (answer.status !== 200) {
      return fail(answer);
    }
    window.sessionStorage.setItem(storageKey, JSON.stringify(answer.body));
    show(how);
  }

  document.getElementById("passkey-sign-in").addEventListener("click", function () {
    failure.hidden = true;
    if (!supported()) {
      return;
    }
    api("POST", "v1/auth/passkey/options", {})
      .then(function (ceremony) {
        if (ceremony.status !== 200) {
          return fail(ceremony);
        }
        var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(ceremony.body.public_key);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
          return api("POST", "v1/auth/passkey", {
            challenge_id: ceremony.body.challenge_id,
            credential: credential.toJSON(),
          }).then(function (answer) {
            keep(answer, "passkey");
          });
        });
      })
      .catch(function () {
        fail(null);
      });
  });

  var form = document.getElementById("password-sign-in-form");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    failure.hidden = true;
    api("POST", "v1/auth/login", new URLSearchParams(new FormData(form)))
      .then(function (answer) {
        form.elements.namedItem("password").value = "";
        keep(answer, "password");
      })
      .catch(function () {
        fail(null);
      });
  });

  document.getElementById("add-passkey").addEventListener("click", function () {
    failure.hidden = true;
    added.hidden = true;
    if (!supported()) {
      return;
    }
    var token = pair().access_token;
    var name = document.getElementById("passkey-name").value.trim();
    api("POST", "v1/users/me/passkeys/options", {}, token)
      .then(function (ceremony) {
        if (ceremony.status !== 200) {
          return fail(ceremony);
        }
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(ceremony.body.public_key);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
          var body = { challenge_id: ceremony.body.challenge_id, credential: credential.toJSON() };
          if (name) {
            body.name = name;
          }
          return api("POST", "v1/users/me/passkeys", body, token).then(function (answer) {
            if (answer.status !== 201) {
              return fail(answer);
            }
            added.hidden = false;
            document.getElementById("passkey-name").value = "";
            return showPasskeys();
          });
        });
      })
      .catch(function () {
        fail(null);
      });
  });

  document.getElementById("sign-out").addEventListener("click", function () {
    var current = pair();
    window.sessionStorage.removeItem(storageKey);
    failure.hidden = true;
    added.hidden = true;
    show();
    if (current) {
      api("POST", "v1/auth/logout", { refresh_token: current.refresh_token }, current.access_token);
    }
  });

  show();
})();

// The email change page: takes the code from the link's fragment (a GET
// changes nothing, and the code reaches no server log), takes the fragment
// out of the address bar, and posts the code when the person confirms.
(function () {
  "use strict";
  var form = document.getElementById("email-change-form");
  if (!form) {
    return;
  }
  var code = new URLSearchParams(window.location.hash.slice(1)).get("code");
  if (code) {
    form.elements.namedItem("code").value = code;
  }
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var failure = document.getElementById("failure");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    failure.hidden = true;
    postForm(form).then(function (answer) {
      if (answer.status === 200) {
        form.hidden = true;
        document.getElementById("result").hidden = false;
        return;
      }
      showFailure(failure, answer.body, null);
    });
  });
})();
