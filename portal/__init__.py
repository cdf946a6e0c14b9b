"""The Sigsync portal package.

``flask --app portal`` finds ``create_app`` here. The Flask wiring lives in
portal/app.py and is imported only when an app is built, so the sync engine,
the worker's jobs and the services can import ``portal.*`` without Flask.
"""


def create_app(config=None):
    """Build the Flask application (see portal.app.create_app)."""
    from portal.app import create_app as build

    return build(config)
