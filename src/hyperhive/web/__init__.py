"""The operator's dashboard: an ASGI app served by hive-c0re (see docs/dashboard.md).

`server.DashboardServer` runs it inside the daemon; `app.create_app` builds it for tests.
"""
