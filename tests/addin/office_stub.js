/*
 * A stub of the Office host for the add-in's handler: Office.context.mailbox.item (body.setSignatureAsync,
 * body.setAsync, body.prependAsync, body.getAsync, body.getTypeAsync, getComposeTypeAsync,
 * disableClientSignatureAsync, notificationMessages),
 * Office.actions.associate and the event object. Needs no DOM: the same file runs in Chromium and in Node.
 *
 *   __compose({itemType: "message", composeType: "reply", platform: "PC", bodyType: "html"}).then(record => ...)
 *
 * resolves with what the handler did once it called event.completed() (record.completed counts the calls);
 * __draft(scenario) only opens a draft (for the task pane) and returns its record (also as __record).
 */
(function (root) {
  "use strict";

  function later(callback, result) {
    root.setTimeout(function () { callback(result); }, 0);
  }

  function ok(value) { return { status: "succeeded", value: value }; }

  function makeItem(scenario, record) {
    var item = {
      itemType: scenario.itemType || "message",
      body: {
        getTypeAsync: function (callback) { later(callback, ok(scenario.bodyType || "html")); },
        setSignatureAsync: function (data, options, callback) {
          record.calls.push("setSignatureAsync");
          record.signature = { data: data, coercionType: options.coercionType };
          later(callback, ok(undefined));
        },
        getAsync: function (coercionType, callback) {
          later(callback, ok(scenario.existingBody || (coercionType === "html" ? "<html><body></body></html>" : "")));
        },
        prependAsync: function (data, options, callback) {
          record.calls.push("prependAsync");
          record.body = { data: data, coercionType: options.coercionType, prepended: true };
          later(callback, ok(undefined));
        },
        setAsync: function (data, options, callback) {
          record.calls.push("setAsync");
          record.body = { data: data, coercionType: options.coercionType };
          later(callback, ok(undefined));
        },
      },
      disableClientSignatureAsync: function (callback) {
        record.calls.push("disableClientSignatureAsync");
        later(callback, ok(undefined));
      },
      notificationMessages: {
        addAsync: function (key, message, callback) {
          record.calls.push("notificationMessages.addAsync");
          record.notifications.push({ key: key, message: message });
          if (callback) later(callback, ok(undefined));
        },
      },
    };
    if (item.itemType === "message") {
      item.getComposeTypeAsync = function (callback) {
        record.calls.push("getComposeTypeAsync");
        later(callback, ok({ composeType: scenario.composeType || "newMail", coercionType: "html" }));
      };
    }
    return item;
  }

  var handlers = {};
  root.Office = {
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    CoercionType: { Html: "html", Text: "text" },
    context: { diagnostics: { platform: "PC" }, mailbox: { item: null } },
    actions: { associate: function (name, handler) { handlers[name] = handler; } },
    onReady: function (callback) {
      var info = { host: "Outlook", platform: root.Office.context.diagnostics.platform };
      if (callback) root.setTimeout(function () { callback(info); }, 0);
      return Promise.resolve(info);
    },
  };

  root.__associated = function () { return Object.keys(handlers).sort(); };

  /** Opens a draft (the task pane's item); returns the record of what is done to it. */
  root.__draft = function (scenario) {
    var record = { calls: [], completed: 0, notifications: [], signature: null, body: null };
    root.Office.context.diagnostics.platform = scenario.platform || "PC";
    root.Office.context.mailbox.item = makeItem(scenario, record);
    root.__record = record;
    return record;
  };

  root.__compose = function (scenario) {
    var record = root.__draft(scenario);
    var name = (scenario.itemType === "appointment") ? "onNewAppointmentOrganizer" : "onNewMessageCompose";
    return new Promise(function (resolve) {
      handlers[name]({
        type: name,
        completed: function () {
          record.completed += 1;
          // Let anything still under way (a late callback, a second completed()) show in the record.
          root.setTimeout(function () { resolve(record); }, 50);
        },
      });
    });
  };
})(globalThis);
