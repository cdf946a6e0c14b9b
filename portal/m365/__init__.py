"""Everything that talks to Microsoft: sign-in (auth), Graph reads (graph), typed errors (errors)."""
