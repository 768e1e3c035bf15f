"""The auth service: accounts, EdDSA access tokens, JWKS, sessions with refresh rotation."""
