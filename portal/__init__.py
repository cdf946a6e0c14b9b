"""The Sigsync portal package.

``flask --app portal`` finds ``create_app`` here. The Flask wiring lives in
portal/app.py and is imported only when an app is built, so the sync engine,
the worker's jobs and the services can import ``portal.*`` without Flask.
"""


def create_app(config=None):
    """Build the Flask application (see portal.app.create_app).

    Without a config this is a process's entry point (``flask --app portal``, gunicorn's
    ``portal:create_app()``): it also sets up logging, once. Tests pass their own config.
    """
    from portal.app import create_app as build

    if config is None:
        from portal.logconfig import configure_logging

        configure_logging()
    return build(config)
