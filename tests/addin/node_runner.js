/*
 * Runs the served handler file the way classic Outlook on Windows does: alone, in a bare JavaScript context
 * with no window, no document, no navigator and no module loader. Only timers, console and fetch are given
 * (the JavaScript-only runtime has them), plus the Office stub and, when named, the MSAL stub.
 *
 *   node node_runner.js HANDLER.js OFFICE_STUB.js MSAL_STUB.js|- SCENARIO_JSON API_MODE(ok|down)
 *
 * Prints one JSON line: what the handler did, the API requests, and the types of the DOM globals it saw.
 */
"use strict";
const fs = require("fs");
const vm = require("vm");

const [handlerPath, officeStub, msalStub, scenario, apiMode] = process.argv.slice(2);
const requests = [];
const context = {
  console: { log: () => {} },  // the runtime log: not needed here
  setTimeout,
  clearTimeout,
  fetch: (url, init) => {
    requests.push({ url, authorization: init.headers.Authorization });
    if (apiMode === "down") return Promise.reject(new TypeError("Failed to fetch"));
    return Promise.resolve({
      status: 200,
      ok: true,
      json: () => Promise.resolve({ html: "<p>Ada Lovelace</p>", text: "Ada Lovelace" }),
    });
  },
};
vm.createContext(context);
const files = [officeStub, handlerPath].concat(msalStub === "-" ? [] : [msalStub]);
for (const file of files) vm.runInContext(fs.readFileSync(file, "utf8"), context, { filename: file });
const globals = vm.runInContext(
  "({window: typeof window, document: typeof document, navigator: typeof navigator, importScripts: typeof importScripts})",
  context);
vm.runInContext("__compose(" + scenario + ")", context).then((record) => {
  process.stdout.write(JSON.stringify({ record, requests, globals, associated: context.__associated() }) + "\n");
});
