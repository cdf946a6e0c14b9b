"""The portal serves its own copy of htmx 2.x: it must work without a CDN."""


def test_htmx_2_is_served_from_the_portal(client):
    with client.get("/static/vendor/htmx-2.0.11.min.js") as response:
        assert response.status_code == 200
        assert b'version:"2.0.11"' in response.data


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
