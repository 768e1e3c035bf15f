"""Verifying auth's access tokens, the same way in every service.

```python
revoked = RevokedSessions(token_ttl_s=900)
keys = JwksCache(settings.jwks_url)
app[VERIFIER] = TokenVerifier(keys, issuer=settings.jwt_issuer,
                              audience=settings.jwt_audience, revoked=revoked)
app.middlewares.append(bearer_middleware)
```
`verifier_ctx` does the wiring above as one `cleanup_ctx`, including the NATS revocation feed.
"""

from chore_common.auth.jwks import JwksCache, StaticKeys, parse_jwks, public_jwk, thumbprint
from chore_common.auth.principal import (
    REVOKED,
    VERIFIER,
    Principal,
    authenticate,
    bearer_middleware,
    bearer_token,
    principal,
    requires,
    verifier_context,
)
from chore_common.auth.revocation import RevocationFeed, RevokedSessions
from chore_common.auth.verify import (
    Claims,
    ExpiredToken,
    InvalidToken,
    KeySource,
    RevokedToken,
    TokenVerifier,
)

__all__ = [
    "REVOKED",
    "VERIFIER",
    "Claims",
    "ExpiredToken",
    "InvalidToken",
    "JwksCache",
    "KeySource",
    "Principal",
    "RevocationFeed",
    "RevokedSessions",
    "RevokedToken",
    "StaticKeys",
    "TokenVerifier",
    "authenticate",
    "bearer_middleware",
    "bearer_token",
    "parse_jwks",
    "principal",
    "public_jwk",
    "requires",
    "thumbprint",
    "verifier_context",
]
