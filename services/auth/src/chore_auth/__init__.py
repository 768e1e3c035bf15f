"""The auth service: accounts, EdDSA access tokens, JWKS, sessions with refresh rotation."""

# chore_common.db and chore_common.bus import each other, and importing db first fails;
# loading bus first resolves the cycle. Remove once chore_common.db imports on its own.
import chore_common.bus  # noqa: F401
