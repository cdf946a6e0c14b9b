/*
 * Sigsync's event handler: puts the employee's signature into a new e-mail or appointment.
 *
 * Served as the tail of /addin/launchevent.js, after its settings (SIGSYNC_ADDIN) and MSAL.js (msal). Classic
 * Outlook on Windows runs this file alone in a JavaScript-only runtime: no DOM, no import, no Office.onReady,
 * absolute URLs only. Whatever happens, event.completed() is called exactly once: on success, on an error, when
 * the token needs the user (a notification then opens the task pane), when offline, or when the time runs out.
 * In every case but success the mail is left as it is.
 */
(function (root) {
  "use strict";

  var SIGN_IN_NOTICE = "sigsyncSignIn";
  var COMPOSE_TYPES = { newMail: "new", reply: "reply", forward: "forward" };
  var clientPromise = null;

  function settings() {
    return root.SIGSYNC_ADDIN;
  }

  function log(text) {
    // console.log lands in Outlook's runtime log (see Microsoft's "Debug your event-based Outlook add-in").
    if (root.console) root.console.log("Sigsync: " + text);
  }

  /** A problem the user can fix by signing in (in the task pane). */
  function SignInNeeded(cause) {
    this.name = "SignInNeeded";
    this.message = "sign-in needed: " + (cause && cause.message ? cause.message : String(cause));
  }

  /** Office's callback style as a promise: resolves with asyncResult.value, rejects with its error. */
  function officeCall(fn) {
    return new Promise(function (resolve, reject) {
      fn(function (result) {
        if (result.status === "failed") reject(new Error(result.error ? result.error.message : "Office call failed"));
        else resolve(result.value);
      });
    });
  }

  function nestedClient() {
    if (!clientPromise) {
      var config = settings();
      clientPromise = root.msal.createNestablePublicClientApplication({
        auth: { clientId: config.clientId, authority: config.authority },
      });
      clientPromise.catch(function () { clientPromise = null; });
    }
    return clientPromise;
  }

  /** An access token for Sigsync's API, silently (an event may not show any sign-in UI). */
  function accessToken() {
    var config = settings();
    if (!config.clientId || !root.msal) return Promise.reject(new SignInNeeded("the add-in is not configured"));
    return nestedClient()
      .then(function (client) { return client.acquireTokenSilent({ scopes: [config.scope] }); })
      .then(function (result) {
        if (!result || !result.accessToken) throw new Error("no access token");
        return result.accessToken;
      })
      .catch(function (error) { throw new SignInNeeded(error); });
  }

  function composeType(item) {
    if (item.itemType === "appointment" || typeof item.getComposeTypeAsync !== "function") return Promise.resolve("new");
    return officeCall(function (done) { item.getComposeTypeAsync(done); }).then(function (value) {
      return COMPOSE_TYPES[value && value.composeType] || "new";
    });
  }

  function bodyType(item) {
    if (typeof item.body.getTypeAsync !== "function") return Promise.resolve("html");
    return officeCall(function (done) { item.body.getTypeAsync(done); }).catch(function () { return "html"; });
  }

  /** The signature for this compose type from Sigsync's API; null when there is none to insert (404, 409). */
  function fetchSignature(token, compose) {
    var url = settings().apiUrl + "?compose=" + encodeURIComponent(compose);
    return root.fetch(url, { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) throw new SignInNeeded(new Error("the API refused the token"));
        if (response.status === 404 || response.status === 409) {
          log("no signature (" + response.status + ")");
          return null;
        }
        if (!response.ok) throw new Error("the API answered " + response.status);
        return response.json();
      });
  }

  function insert(item, signature, type) {
    var text = type === "text";
    var content = text ? signature.text : signature.html;
    var options = { coercionType: text ? "text" : "html" };
    // Outlook on the web and new Outlook do not take setSignatureAsync for appointments: the new invitation's
    // body is set instead (as Microsoft's outlook-set-signature sample does), or, when something is already in
    // it (an online-meeting link another add-in put there), the signature goes before it so nothing is lost.
    var onWeb = root.Office.context.diagnostics && root.Office.context.diagnostics.platform === "OfficeOnline";
    if (item.itemType === "appointment" && onWeb) {
      var body = text ? "\n\n" + content : "<br><br>" + content;
      return officeCall(function (done) { item.body.getAsync(options.coercionType, done); }).then(function (current) {
        var empty = !String(current || "").replace(/<[^>]*>|&nbsp;|\s/g, "");
        return officeCall(function (done) {
          if (empty) item.body.setAsync(body, options, done);
          else item.body.prependAsync(body + (text ? "\n\n" : "<br><br>"), options, done);
        });
      });
    }
    return officeCall(function (done) { item.body.setSignatureAsync(content, options, done); });
  }

  function disableClientSignature(item) {
    if (typeof item.disableClientSignatureAsync !== "function") return Promise.resolve();
    return officeCall(function (done) { item.disableClientSignatureAsync(done); }).catch(function (error) {
      log("Outlook's own signature stays on: " + error.message);
    });
  }

  function notifySignIn(item) {
    var config = settings();
    try {
      item.notificationMessages.addAsync(SIGN_IN_NOTICE, {
        type: "insightMessage",
        message: "Sign in to Sigsync once to get your company signature in new mail.",
        icon: "Icon.16x16",
        actions: [{
          actionType: "showTaskPane",
          actionText: "Sign in",
          commandId: item.itemType === "appointment" ? config.appointmentButton : config.messageButton,
          contextData: "{}",
        }],
      }, function (result) {
        if (result && result.status === "failed") log("notification not shown: " + result.error.message);
      });
    } catch (error) {
      log("notification not shown: " + error.message);
    }
  }

  /** Token, compose type, signature, insertion: resolves once the draft has its signature (or has none). */
  function addSignature(item) {
    return Promise.all([accessToken(), composeType(item), bodyType(item)]).then(function (values) {
      return fetchSignature(values[0], values[1]).then(function (signature) {
        if (!signature) return false;
        return insert(item, signature, values[2]).then(function () {
          return disableClientSignature(item);
        }).then(function () { return true; });
      });
    });
  }

  /** The handler Outlook calls; `event.completed()` exactly once, at the latest when the timer fires. */
  function onCompose(event) {
    var item = root.Office.context.mailbox.item;
    var finished = false;
    var timer = null;
    function finish(why) {
      if (finished) return;
      finished = true;
      if (timer !== null) root.clearTimeout(timer);
      log(why);
      event.completed();
    }
    timer = root.setTimeout(function () { finish("no signature in time; the mail is left as it is"); },
      settings().timeoutMs);
    try {
      addSignature(item).then(function (inserted) {
        finish(inserted ? "signature inserted" : "no signature for this person");
      }, function (error) {
        if (error instanceof SignInNeeded) notifySignIn(item);
        finish("mail left as it is: " + error.message);
      });
    } catch (error) {
      finish("mail left as it is: " + error.message);
    }
  }

  root.Office.actions.associate("onNewMessageCompose", onCompose);
  root.Office.actions.associate("onNewAppointmentOrganizer", onCompose);
})(typeof globalThis !== "undefined" ? globalThis : this);
