"""The OpenAPI schema and its docs page (no CDN), and API tokens a user makes for scripts."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_describes_every_api_endpoint(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/events/", "/api/events/{event_id}/review/", "/api/token/"):
        assert path in schema["paths"], path


def test_the_docs_page_loads_its_scripts_from_this_server_not_a_cdn(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "https://" not in page


def test_a_user_creates_uses_and_revokes_a_token(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    key = client.post("/api/token/").json()["key"]
    script = Client()  # a script with the key only (logging the browser out would end the token it made)
    assert script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert script.get("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").json() == {"exists": True}
    assert script.delete("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 204
    assert script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}").status_code in (401, 403)


def test_an_outsider_gets_no_token(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.post("/api/token/").status_code == 403
