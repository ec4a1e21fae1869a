"""The REST API for POS terminals, scripts and integrations (../shared/API.md).

`base` holds what every endpoint shares (JSON parsing, money fields, pagination, the
documented error bodies); `views` the reference data (locations, registers,
denominations) and the credentials. Session endpoints live in sessions_app/api.py.
"""
