"""Free text from a request never becomes a cache key: a long import-job id with spaces and control characters is
looked up in the database and answered 404, and the cache (which warns on keys memcached could not hold) stays
silent."""

import warnings
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def test_a_free_text_import_job_id_reaches_no_cache_key(senior_analyst: User, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client = Client()
    client.force_login(senior_analyst)
    job_id = "my upload from monday " * 20
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        cache.get("seistriage:fine-key")  # the cache in use is the one that checks keys
        assert client.get(f"/api/imports/{job_id}/").status_code == 404
        assert client.get(f"/api/imports/{job_id}%0A%0D/").status_code == 404
        assert client.get("/import/", {"job": job_id}).status_code == 200
