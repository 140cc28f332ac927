"""Receivers: a changed password ends the user's API token (whoever knew the old password may have made
it); logging out ends a token made from that session (a token should not outlive the login that made it);
new scores may be decided automatically (analyst/auto_decisions.py, off unless SEISTRIAGE_TRIAGE_AUTO_COMMIT)."""

from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest
from rest_framework.authtoken.models import Token

from analyst.api.authentication import api_token_revoke_session_bound
from analyst.auto_decisions import events_auto_decide
from ranking.signals import events_scored


@receiver(pre_save, sender=User, dispatch_uid="analyst-token-rotation-on-password-change")
def api_token_delete_on_password_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Every password change saves the user (set_password + save, the password forms, changepassword, the
    admin), so this sees them all; a raw fixture load is left alone."""
    if kwargs.get("raw") or instance.pk is None:
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        Token.objects.filter(user_id=instance.pk).delete()


@receiver(user_logged_out, dispatch_uid="analyst-token-revocation-on-logout")
def api_token_delete_on_logout(
    sender: type[User], request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    """Django sends this before it flushes the session, so the session still names the token it made."""
    if request is not None and user is not None and hasattr(request, "session"):
        api_token_revoke_session_bound(user=user, session=request.session)


@receiver(events_scored, dispatch_uid="analyst-auto-decisions-after-scoring")
def events_auto_decide_after_scoring(sender: object, event_ids: list[int], **kwargs: Any) -> None:
    """Confident events are decided automatically only when SEISTRIAGE_TRIAGE_AUTO_COMMIT is on."""
    events_auto_decide(event_ids=event_ids)
