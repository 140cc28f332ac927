"""A changed password ends the user's API token: whoever knew the old password may have made it."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token


@receiver(pre_save, sender=User, dispatch_uid="analyst-token-rotation-on-password-change")
def api_token_delete_on_password_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Every password change saves the user (set_password + save, the password forms, changepassword, the
    admin), so this sees them all; a raw fixture load is left alone."""
    if kwargs.get("raw") or instance.pk is None:
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        Token.objects.filter(user_id=instance.pk).delete()
