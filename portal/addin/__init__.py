"""The Outlook add-in: its manifest, its pages and the API it calls with Entra ID tokens."""
