/*
 * A stand-in for MSAL.js's nested app authentication, installed after the served handler file (whose real MSAL
 * bundle it replaces). __msal.mode: "ok" gives a token, "interaction" fails as MSAL does when the user must sign in;
 * acquireTokenPopup (the task pane's interactive sign-in) always succeeds; __msal.token, when set, is the access
 * token handed out (a real one from the simulator's Entra ID). Set __msal.mode before the page starts
 * with __MSAL_MODE.
 */
(function (root) {
  "use strict";
  root.__msal = { mode: root.__MSAL_MODE || "ok", configs: [], requests: [] };
  root.msal = {
    createNestablePublicClientApplication: function (configuration) {
      root.__msal.configs.push(configuration);
      return Promise.resolve({
        acquireTokenPopup: function (request) {
          root.__msal.requests.push({ popup: request });
          root.__msal.mode = "ok";
          return Promise.resolve({ accessToken: "token-for-ada",
            account: { name: "Ada Lovelace", username: "ada@contoso.example" } });
        },
        acquireTokenSilent: function (request) {
          root.__msal.requests.push(request);
          if (root.__msal.mode === "ok") {
            return Promise.resolve({ accessToken: root.__msal.token || "token-for-ada",
              account: { name: "Ada Lovelace", username: "ada@contoso.example" } });
          }
          var error = new Error("interaction_required: AADSTS65001 consent needed");
          error.errorCode = "interaction_required";
          return Promise.reject(error);
        },
      });
    },
  };
})(globalThis);
