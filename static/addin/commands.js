// The HTML runtime page only: tell office.js the page is ready (the handler file itself must not, as classic
// Outlook on Windows runs it without office.js's page life cycle).
Office.onReady();
