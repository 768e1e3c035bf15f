"""The service kit every chore platform service stands on."""
