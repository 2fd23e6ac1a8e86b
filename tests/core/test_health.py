import pytest

pytestmark = pytest.mark.django_db

TOKEN = "operator-token-for-tests"


@pytest.fixture
def operator(settings):
    settings.HEALTH_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def test_health_reports_every_dependency(client, b2b, operator):
    response = client.get("/health/", **operator)
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "b2brouter": "ok"}


def test_health_says_when_b2brouter_is_unreachable(client, settings, operator):
    settings.B2BROUTER_API_URL = "http://127.0.0.1:9"  # nothing listens there
    response = client.get("/health/", **operator)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["b2brouter"].startswith("indisponible")
    assert body["checks"]["database"] == "ok"
    assert settings.B2BROUTER_API_KEY not in response.content.decode()
    # Anyone else: this process can serve (its database and broker answer); B2Brouter not asked.
    public = client.get("/health/")
    assert (public.status_code, public.json()) == (200, {"status": "ok"})
