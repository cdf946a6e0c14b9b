/*
 * A stand-in for MSAL.js's nested app authentication, installed after the served handler file (whose real MSAL
 * bundle it replaces). __msal.mode: "ok" gives a token, "interaction" fails as MSAL does when the user must sign in.
 */
(function (root) {
  "use strict";
  root.__msal = { mode: "ok", configs: [], requests: [] };
  root.msal = {
    createNestablePublicClientApplication: function (configuration) {
      root.__msal.configs.push(configuration);
      return Promise.resolve({
        acquireTokenSilent: function (request) {
          root.__msal.requests.push(request);
          if (root.__msal.mode === "ok") {
            return Promise.resolve({ accessToken: "token-for-ada", account: { username: "ada@contoso.example" } });
          }
          var error = new Error("interaction_required: AADSTS65001 consent needed");
          error.errorCode = "interaction_required";
          return Promise.reject(error);
        },
      });
    },
  };
})(globalThis);
