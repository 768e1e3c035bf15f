"""HTTP for every service: the app factory, middlewares, problem+json, typed request and
response helpers, OpenAPI, health and pagination. The only aiohttp-facing part of the kit."""
