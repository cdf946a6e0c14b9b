/*
 * Runs the served handler file the way classic Outlook on Windows does: alone, in a bare JavaScript context
 * with no window, no document, no navigator and no module loader. Only timers, console and fetch are given
 * (the JavaScript-only runtime has them), plus the Office stub and, as the third argument says:
 *   MSAL_STUB.js  the MSAL stub replaces the bundle's MSAL.js;
 *   -             the bundle's real MSAL.js, and nothing else (no window at all);
 *   bridge        the bundle's real MSAL.js with what Outlook's host gives nested app authentication: `window`
 *                 as the global object, window.nestedAppAuthBridge (a fake host answering GetInitContext and
 *                 GetToken), and the web platform's crypto, atob and TextDecoder. Still no document.
 *
 *   node node_runner.js HANDLER.js OFFICE_STUB.js MSAL_STUB.js|-|bridge SCENARIO_JSON API_MODE(ok|down)
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
const bridgeRequests = [];
if (msalStub === "bridge") {
  const listeners = [];
  const part = (claims) => Buffer.from(JSON.stringify(claims)).toString("base64url");
  Object.assign(context, { crypto: require("crypto").webcrypto, atob, btoa, TextEncoder, TextDecoder });
  context.window = context;
  context.nestedAppAuthBridge = {
    addEventListener: (type, listener) => listeners.push(listener),
    removeEventListener: () => {},
    postMessage: (json) => {
      const request = JSON.parse(json);
      bridgeRequests.push({ method: request.method, scope: request.tokenParams && request.tokenParams.scope,
        clientId: request.tokenParams && request.tokenParams.clientId });
      const response = { messageType: "NestedAppAuthResponse", requestId: request.requestId, success: true };
      if (request.method === "GetInitContext") {
        response.initContext = { sdkName: "Outlook (test host)", sdkVersion: "1.0", capabilities: { queryAccount: false } };
      } else {
        const now = Math.floor(Date.now() / 1000);
        const claims = { aud: request.tokenParams.clientId, tid: "tid-1", oid: "oid-ada", iat: now, exp: now + 3600,
          iss: "https://login.microsoftonline.com/tid-1/v2.0", preferred_username: "ada@contoso.example" };
        response.token = { access_token: "token-from-the-host", expires_in: 3600, scope: request.tokenParams.scope,
          id_token: part({ alg: "none" }) + "." + part(claims) + ".x" };
        response.account = { homeAccountId: "oid-ada.tid-1", environment: "login.microsoftonline.com",
          tenantId: "tid-1", username: "ada@contoso.example", localAccountId: "oid-ada" };
      }
      setTimeout(() => listeners.forEach((listener) => listener(JSON.stringify(response))), 0);
    },
  };
}
vm.createContext(context);
const files = [officeStub, handlerPath].concat(["-", "bridge"].includes(msalStub) ? [] : [msalStub]);
for (const file of files) vm.runInContext(fs.readFileSync(file, "utf8"), context, { filename: file });
const globals = vm.runInContext(
  "({window: typeof window, document: typeof document, navigator: typeof navigator, " +
  "importScripts: typeof importScripts})",
  context);
vm.runInContext("__compose(" + scenario + ")", context).then((record) => {
  process.stdout.write(JSON.stringify({ record, requests, bridgeRequests, globals, associated: context.__associated() }) + "\n");
});
