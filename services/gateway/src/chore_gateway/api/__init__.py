"""HTTP in: the gateway's route table (api/routes.py) and its `/docs` page. It reaches the
adapters only through the ports in keys.py."""
