//! The agent's side of OAuth: login flows (authorization code + PKCE, JWT bearer, client credentials,
//! device, access token), refresh, revocation and token storage (keyring, else a 0600 file).
//!
//! Never logs or prints a secret. Does not know about commands or the sandbox.
