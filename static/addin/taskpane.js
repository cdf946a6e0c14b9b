/*
 * Sigsync's task pane: who you are signed in as, your signatures for new e-mails and for replies, and
 * "Insert signature" for the draft that is open. The sign-in is interactive here (a popup) when the silent one
 * fails: the event handler cannot show any UI, so its notification sends people here.
 */
(function () {
  "use strict";

  var pane = document.getElementById("taskpane");
  var config = {
    apiUrl: pane.dataset.apiUrl,
    clientId: pane.dataset.clientId,
    authority: pane.dataset.authority,
    scope: pane.dataset.scope,
  };
  var COMPOSE_TYPES = { newMail: "new", reply: "reply", forward: "forward" };
  var client = null;
  var token = null;
  var signatures = {};

  function byId(id) { return document.getElementById(id); }

  function say(text) { byId("status").textContent = text; }

  function officeCall(fn) {
    return new Promise(function (resolve, reject) {
      fn(function (result) {
        if (result.status === "failed") reject(new Error(result.error ? result.error.message : "Office call failed"));
        else resolve(result.value);
      });
    });
  }

  function request() { return { scopes: [config.scope] }; }

  function signedIn(result) {
    token = result.accessToken;
    var account = result.account || {};
    byId("account").textContent = account.name ? account.name + " (" + account.username + ")" : (account.username || "you");
    byId("sign-in").hidden = true;
    return loadSignatures();
  }

  function loadOne(compose) {
    return fetch(config.apiUrl + "?compose=" + compose, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
    }).then(function (response) {
      if (response.ok) return response.json();
      return response.json().catch(function () { return {}; }).then(function (body) {
        throw new Error(body.error || "Sigsync answered " + response.status + ".");
      });
    });
  }

  function loadSignatures() {
    say("Loading your signatures…");
    return Promise.all([loadOne("new"), loadOne("reply")]).then(function (found) {
      signatures = { "new": found[0], reply: found[1], forward: found[1] };
      byId("signature-new").textContent = found[0].text;
      byId("signature-reply").textContent = found[1].text;
      byId("insert").disabled = false;
      say("Your signatures are up to date.");
    }, function (error) {
      say(error.message);
    });
  }

  function signInInteractively() {
    say("Signing you in…");
    client.acquireTokenPopup(request()).then(signedIn, function (error) {
      say("Sign-in did not finish: " + error.message);
    });
  }

  function composeType(item) {
    if (item.itemType === "appointment" || typeof item.getComposeTypeAsync !== "function") return Promise.resolve("new");
    return officeCall(function (done) { item.getComposeTypeAsync(done); }).then(function (value) {
      return COMPOSE_TYPES[value && value.composeType] || "new";
    });
  }

  function insertSignature() {
    var item = Office.context.mailbox.item;
    composeType(item).then(function (compose) {
      var signature = signatures[compose];
      var options = { coercionType: "html" };
      var onWeb = Office.context.diagnostics && Office.context.diagnostics.platform === "OfficeOnline";
      if (item.itemType === "appointment" && onWeb) {
        return officeCall(function (done) { item.body.prependAsync(signature.html, options, done); });
      }
      return officeCall(function (done) { item.body.setSignatureAsync(signature.html, options, done); });
    }).then(function () {
      say("Signature inserted. You can edit it like any text.");
    }, function (error) {
      say("The signature could not be inserted: " + error.message);
    });
  }

  function start() {
    byId("sign-in").addEventListener("click", signInInteractively);
    byId("insert").addEventListener("click", insertSignature);
    if (!config.clientId) {
      say("Sigsync's Microsoft 365 app is not set up yet: ask your administrator.");
      return;
    }
    msal.createNestablePublicClientApplication({ auth: { clientId: config.clientId, authority: config.authority } })
      .then(function (created) {
        client = created;
        return client.acquireTokenSilent(request()).then(signedIn, function () {
          byId("sign-in").hidden = false;
          say("Sign in once so Sigsync can put your signature into new mail.");
        });
      }, function (error) {
        say("Sign-in is not available here: " + error.message);
      });
  }

  Office.onReady(start);
})();
