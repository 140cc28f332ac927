"""The Celery application, wired the standard way: settings under the CELERY_ namespace."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("seistriage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("cpu", "gpu", "training")]
app.autodiscover_tasks()  # ranking.tasks (scoring, CNN, training) and analyst.tasks (ingest)
