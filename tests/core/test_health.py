import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_every_dependency(client, b2b):
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "b2brouter": "ok"}


def test_health_says_when_b2brouter_is_unreachable(client, settings):
    settings.B2BROUTER_API_URL = "http://127.0.0.1:9"  # nothing listens there
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["b2brouter"].startswith("indisponible")
    assert body["checks"]["database"] == "ok"
    assert settings.B2BROUTER_API_KEY not in response.content.decode()
