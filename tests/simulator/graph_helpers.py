"""Helpers for the Graph simulator tests: a Flask app with only the Graph side, and a tiny client."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from simulator.control import control_bp
from simulator.faults import Faults
from simulator.graph import graph_bp
from simulator.state import Simulator, SimulatorSettings
from simulator.tenant import Tenant
from simulator.tokens import TokenStore

READ_BOTH = ("User.Read.All", "Group.Read.All")
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
BASE = "http://localhost"  # Flask's test client host: links must point back at it


def build_app(**settings) -> Flask:
    """A Flask app with the Graph and control blueprints over a fresh simulator."""
    config = SimulatorSettings(**{"users": 300, **settings})
    sim = Simulator(settings=config, tenant=Tenant(config), tokens=TokenStore(config), faults=Faults(seed=1))
    app = Flask(__name__)
    app.config.update(TESTING=True)
    app.extensions["simulator"] = sim
    app.register_blueprint(graph_bp)
    app.register_blueprint(control_bp)
    return app


def simulator_of(app: Flask) -> Simulator:
    """The simulator an app serves."""
    return app.extensions["simulator"]


def token(app: Flask, permissions=READ_BOTH, lifetime: int | None = None) -> str:
    """A fresh app-only bearer token with these app roles."""
    return simulator_of(app).tokens.issue_app_token("test-client", permissions, lifetime).token


@dataclass
class Graph:
    """A test client that sends a bearer token and accepts absolute Graph links."""

    client: FlaskClient
    bearer: str

    def get(self, url: str, **headers):
        """GET a path ("/v1.0/users") or an absolute link from a previous answer."""
        return self.client.get(_local(url), headers={"Authorization": f"Bearer {self.bearer}", **headers})

    def send(self, method: str, url: str, json=None, **headers):
        """Any method, with an optional JSON body."""
        return self.client.open(_local(url), method=method, json=json,
                                headers={"Authorization": f"Bearer {self.bearer}", **headers})

    def all_pages(self, url: str, link: str = "@odata.nextLink", **headers) -> tuple[list[dict], list[dict]]:
        """Follow nextLinks to the end: (every item, every page body)."""
        items, pages = [], []
        while url:
            answer = self.get(url, **headers)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            body = answer.get_json()
            pages.append(body)
            items.extend(body["value"])
            url = body.get(link)
        return items, pages

    def delta_round(self, url: str, **headers) -> tuple[list[dict], str, list[dict]]:
        """Follow a delta round to its deltaLink: (items, deltaLink, page bodies)."""
        items, pages = self.all_pages(url, **headers)
        return items, pages[-1]["@odata.deltaLink"], pages


def _local(url: str) -> str:
    return url[len(BASE):] if url.startswith(BASE) else url


def types_of(doc: dict) -> dict[str, type]:
    """Key names and JSON value types (None counts as 'any': unset properties are null)."""
    return {key: type(value) for key, value in doc.items() if value is not None}
