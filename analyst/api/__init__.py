"""The review API (Django REST framework): the queue, an event's evidence, decisions and claims."""
